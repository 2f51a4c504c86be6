"""Benchmark: official documents (公文) on PostgreSQL — a 1,000-unit round's results notice in process,
and the round's feedback letters issued in bulk by real Celery workers.

    python bench/documents.py [--letters 200] [--workers 2] [--max-tasks-per-child 50] [--reuse]

prints `results_notice_1000_units_s=<n>` (beside `results_notice_vs_bare=<ratio>`),
`feedback_letters_per_s=<n>` (beside `feedback_letters_vs_inprocess=<ratio>`), `worker_peak_rss_mb=<n>`
and the CPU milliseconds per letter.

The round (database `bench_documents`): bench/scoring.py's seed — 1,000 units in 4 categories, 5
experts × 40 items (200,000 item scores), findings, special bonuses — with its results computed and
stored by `round_compute_results`, and a staff member and a head (with e-mail addresses) per unit, so
that every issued letter notifies two people through the outbox as in production. `--reuse` keeps a
database seeded by an earlier run (its documents, batches, counters and notifications are deleted).

1. Results notice, in this process (set up as a worker is: WeasyPrint imported, coverage read,
   `gc.freeze()`): `draft_create` (the ranking read from the stored results) and
   the HTML, then WeasyPrint's layout and PDF (`render.render_pdf`); best of 3. Baseline in the same
   run: WeasyPrint on a bare HTML table of the same rows and columns (no stylesheet, no fonts named),
   `results_notice_vs_bare` = notice / bare. Then the whole issue in process (`issue_request` +
   `issue_render`: number, render, store, audit, notify every unit's people).
2. Feedback letters: a private redis-server as the broker, an SMTP sink, `--workers` Celery workers
   (`--pool=prefork --concurrency=1 --max-tasks-per-child=<k> --prefetch-multiplier=1`). All but
   `--letters` units are given an issued letter first (rows only: an earlier batch), so that
   `batch_feedback_letters` drafts and queues `--letters` letters. The clock runs from the request
   (the office's click: drafting the letters and queuing them) to the last letter issued;
   `batch_request_s` is the request's own part. Baseline in the same run: the same kind of letter
   rendered in this process one after another (`html_of` + `render_pdf`, no database writes), times the
   number of workers: `feedback_letters_vs_inprocess` = measured rate / that ideal rate.
3. Memory: every worker pool child's VmHWM (peak RSS) is sampled every 0.1 s while it lives (children
   are recycled after k tasks); `worker_peak_rss_mb` is the highest seen. The main processes' own peak
   is printed beside it (they read the fonts' coverage at start, then fork). Then the results notice is
   issued through the same workers: `worker_peak_rss_mb_results_notice`. (Not ru_maxrss of reaped
   children: a subprocess's ru_maxrss includes this script's own image at fork time, before its exec.)
4. CPU: user + system time of the worker processes (their reaped children included), of this process
   during the request, and of the PostgreSQL backends alive at the end, per letter.
"""

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

DB = _common.db_name("bench_documents")


def worker_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children it has reaped (utime, stime, cutime, cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def workers_cpu_seconds(workers) -> float:
    """CPU of the workers: main processes with their reaped children, plus the pool children alive now."""
    return sum(worker_cpu_seconds(w.proc.pid) + sum(_common.cpu_seconds(c) for c in w.children()) for w in workers)


def database_exists() -> bool:
    import psycopg2

    conn = psycopg2.connect(f"{_common.PG}/postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB])
            return cur.fetchone() is not None
    finally:
        conn.close()


def attach(dbname: str) -> None:
    """Django on an existing database (migrated to the current code)."""
    import subprocess

    env = _common.bench_env(dbname)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=_common.ROOT, env=env,
                   check=True)
    sys.path.insert(0, str(_common.ROOT))
    import django

    django.setup()


def seed():
    import scoring
    from django.contrib.auth.hashers import make_password

    from cases import models as m
    from cases.scoring import results

    office, round, n_scores = scoring.seed()
    units = list(m.Unit.objects.order_by("code"))
    password = make_password("bench")
    people = m.User.objects.bulk_create(
        m.User(username=f"{role}{u.code}", email=f"{role}{u.code}@example.org", password=password)
        for u in units for role in ("staff", "head")
    )
    m.UnitMembership.objects.bulk_create(
        m.UnitMembership(user=people[2 * i + k], unit=u, role=role)
        for i, u in enumerate(units) for k, role in enumerate((m.UnitRole.STAFF, m.UnitRole.HEAD))
    )
    stored = results.round_compute_results(user=office, round=round)
    results.round_freeze_results(round=round)  # the leader's approval: letters may be issued
    round.refresh_from_db(fields=["results_frozen_at"])  # the freeze is an UPDATE of the row, not of this instance
    return office, round, n_scores, len(stored)


def reset() -> tuple:
    """The round of an earlier run, without its documents and notifications."""
    from cases import models as m
    from notifications.documents.models import Document, DocumentBatch, DocumentCounter
    from notifications.models import Notification

    Document.objects.filter(replaces__isnull=False).delete()
    Document.objects.all().delete()
    DocumentBatch.objects.all().delete()
    DocumentCounter.objects.all().delete()
    Notification.objects.all().delete()
    return m.User.objects.get(username="office"), m.Round.objects.get(title="基准轮次")


def bare_table_html(rows) -> str:
    """The baseline: the notice's ranking rows and columns as a bare HTML table."""
    body = "".join(
        f"<tr><td>{r.rank}</td><td>{r.unit}</td><td>{r.total}</td><td>{r.grade}</td><td>{r.movement or '—'}</td></tr>"
        for t in rows for r in t.rows
    )
    return (f"<html><body><table><thead><tr><th>名次</th><th>单位</th><th>总分</th><th>等次</th><th>名次变化</th></tr>"
            f"</thead><tbody>{body}</tbody></table></body></html>")


def results_notice(office, round) -> None:
    from cases import reports
    from notifications.documents import render, services
    from notifications.documents.models import DocumentKind

    render._weasyprint()  # as a worker does at start (notifications.tasks._preload_renderer): the import,
    render.configured_coverage()  # the fonts' coverage, and what is loaded so far out of the collector's sight
    gc.collect()
    gc.freeze()
    runs, builds, renders, cpu, pages = [], [], [], [], 0
    for _ in range(3):
        c0 = time.process_time()
        t0 = time.perf_counter()
        draft = services.draft_create(user=office, round=round, kind=DocumentKind.RESULTS_NOTICE)
        html = services.html_of(draft, preview=False, number=1)
        t1 = time.perf_counter()
        out = render.render_pdf(html)
        t2 = time.perf_counter()
        runs.append(t2 - t0)
        cpu.append(time.process_time() - c0)
        builds.append(t1 - t0)
        renders.append(t2 - t1)
        pages = out.pages
        draft.delete()
    bare_html = bare_table_html(reports.round_ranking(round))
    bare, bare_cpu = [], []
    for _ in range(3):
        c0 = time.process_time()
        t0 = time.perf_counter()
        bare_out = render.render_pdf(bare_html)
        bare.append(time.perf_counter() - t0)
        bare_cpu.append(time.process_time() - c0)
    print(f"# results notice: {pages} pages; build (draft + HTML) best {min(builds):.2f} s, render best "
          f"{min(renders):.2f} s; runs {', '.join(f'{t:.2f}' for t in runs)}; bare table {bare_out.pages} pages, "
          f"runs {', '.join(f'{t:.2f}' for t in bare)}; CPU s notice best {min(cpu):.2f}, bare best {min(bare_cpu):.2f}",
          flush=True)
    print(f"results_notice_1000_units_s={min(runs):.2f} results_notice_bare_table_s={min(bare):.2f} "
          f"results_notice_vs_bare={min(runs) / min(bare):.2f}", flush=True)

    from notifications import tasks

    draft = services.draft_create(user=office, round=round, kind=DocumentKind.RESULTS_NOTICE)
    kicked = tasks.render_documents_kick
    tasks.render_documents_kick = lambda ids, mode: None  # type: ignore[assignment]  # issued right here
    try:
        t0 = time.perf_counter()
        services.issue_request(user=office, document=draft)
        assert services.issue_render(draft.pk)
        issue_s = time.perf_counter() - t0
    finally:
        tasks.render_documents_kick = kicked  # type: ignore[assignment]
    draft.refresh_from_db()
    print(f"# results notice issued in process (number, render, store, audit, notify "
          f"{draft.round.cases.count() * 2} people): results_notice_issue_s={issue_s:.2f} {draft.doc_number}",
          flush=True)


def letter_profile(office, round, n: int = 20) -> float:
    """Feedback letters rendered in this process one after another: seconds per letter; and where one
    letter's time goes."""
    from cases import models as m
    from notifications.documents import render, services
    from notifications.documents.models import Document, DocumentKind

    units = list(m.Unit.objects.order_by("code")[:n])
    drafts = [services.draft_create(user=office, round=round, kind=DocumentKind.FEEDBACK_LETTER, unit=u)
              for u in units]
    parts = {"html_of (queries + template)": [], "font check": [], "layout": [], "write_pdf (subset, PDF)": []}
    t_all = time.perf_counter()
    for d in drafts:
        t0 = time.perf_counter()
        html = services.html_of(d, preview=False)
        t1 = time.perf_counter()
        assert not render.missing_characters(html)
        t2 = time.perf_counter()
        document = render._layout(html)  # WeasyPrint's layout with the product's file fetcher
        t3 = time.perf_counter()
        document.write_pdf()
        t4 = time.perf_counter()
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[key].append(dt)
    per_letter = (time.perf_counter() - t_all) / n
    print(f"# one feedback letter in process (median of {n}): "
          + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in parts.items())
          + f"; {per_letter * 1000:.0f} ms per letter in all", flush=True)
    if os.environ.get("BENCH_PROFILE"):
        profiler = cProfile.Profile()
        profiler.enable()
        render.render_pdf(services.html_of(drafts[0], preview=False))
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    Document.objects.filter(pk__in=[d.pk for d in drafts]).delete()
    return per_letter


def earlier_batch(office, round, keep: int) -> None:
    """Issued letters (rows only) for every unit but `keep`: the batch then drafts `keep` letters."""
    from django.utils import timezone

    from notifications.documents.models import Document, DocumentKind, DocumentStatus, Issuer
    from notifications.documents.services import issuer_default

    issuer: Issuer = issuer_default()
    cases = list(round.cases.select_related("unit").order_by("unit__code"))
    now = timezone.now()
    Document.objects.bulk_create(
        Document(round=round, unit=c.unit, kind=DocumentKind.FEEDBACK_LETTER, issuer=issuer,
                 status=DocumentStatus.ISSUED, title=f"关于{c.unit.name}的反馈意见", issued_at=now, created_by=office)
        for c in cases[keep:]
    )


def feedback_letters(office, round, letters: int, workers: int, max_tasks: int, per_letter_inprocess: float,
                     notice_in_worker: bool) -> None:
    from django.db import connection

    from config.celery import app
    from harness.processes import RedisServer, RssSampler, SmtpSink, Worker, broker, memory_kb, wait_until, worker_env
    from notifications.documents import services
    from notifications.documents.models import Document, DocumentKind, DocumentStatus
    from notifications.models import Notification

    earlier_batch(office, round, letters)
    # The in-process notice's 2,000 notices were never sent (no worker then): not the letters' workers' job.
    Notification.objects.all().delete()
    redis = RedisServer()
    running: list[Worker] = []
    notice_rss = None
    with SmtpSink() as sink:
        try:
            redis.start()
            env = _common.bench_env(DB)
            env.update(worker_env(database_url=env["DATABASE_URL"], broker_url=redis.url, smtp_port=sink.port))
            env.update(LOG_LEVEL="WARNING")
            running = [Worker(env, f"letters{i}", pool="prefork", concurrency=1, max_tasks_per_child=max_tasks,
                              prefetch_multiplier=1).start(timeout=60) for i in range(workers)]
            mains = [w.proc.pid for w in running]
            mains_at_start = max(memory_kb(p).get("VmRSS", 0) for p in mains) / 1024
            cpu_before = workers_cpu_seconds(running)
            with broker(app, redis.url), RssSampler(lambda: [p for w in running for p in w.children()]) as rss, \
                    RssSampler(lambda: mains) as main_rss:
                started = time.monotonic()
                cpu_request = time.process_time()
                batch = services.batch_feedback_letters(user=office, round=round)
                requested = time.monotonic()
                cpu_request = time.process_time() - cpu_request

                def done():
                    p = services.batch_progress(batch)
                    if p["failed"]:
                        raise RuntimeError(f"letters failed: {p['failed'][:3]}")
                    return p["pending"] == 0 and p

                progress = wait_until(done, 60 + letters * 2, interval=0.1, what="the batch issued")
                finished = time.monotonic()
                cpu_workers = workers_cpu_seconds(running) - cpu_before
                pg = _common.CpuMeter(0, DB)._pg_pids()
                cpu_pg = sum(_common.cpu_seconds(p) for p in pg)
            children_seen = len(rss.peaks)
            if notice_in_worker:  # the round's results notice through the same workers
                with broker(app, redis.url), RssSampler(lambda: [p for w in running for p in w.children()]) as nrss:
                    t0 = time.monotonic()
                    notice = services.draft_create(user=office, round=round, kind=DocumentKind.RESULTS_NOTICE)
                    services.issue_request(user=office, document=notice)
                    wait_until(lambda: Document.objects.filter(pk=notice.pk, status=DocumentStatus.ISSUED).exists(),
                               120, interval=0.1, what="the results notice issued")
                    notice_rss = (nrss.peak_mb(), time.monotonic() - t0)
        finally:
            for w in running:
                w.close()
            redis.close()
    assert progress["done"] == letters, progress
    last = batch.documents.filter(status=DocumentStatus.ISSUED).order_by("-issued_at").values_list("issued_at", flat=True)[0]
    first = batch.documents.order_by("issued_at").values_list("issued_at", flat=True)[0]
    elapsed = finished - started
    rate = letters / elapsed
    ideal = workers / per_letter_inprocess
    print(f"# {letters} letters, {workers} workers x 1 process (--max-tasks-per-child={max_tasks}, prefetch 1): "
          f"batch_request_s={requested - started:.2f}; first to last issued {(last - first).total_seconds():.2f} s; "
          f"request to last issued {elapsed:.2f} s; {children_seen} pool children seen", flush=True)
    print(f"feedback_letters_per_s={rate:.1f} feedback_letters_inprocess_ideal_per_s={ideal:.1f} "
          f"feedback_letters_vs_inprocess={rate / ideal:.2f}", flush=True)
    connection.close()
    print(f"worker_peak_rss_mb={rss.peak_mb():.0f} (pool children's VmHWM while rendering letters; the workers' main "
          f"processes: {mains_at_start:.0f} MB after start, VmHWM {main_rss.peak_mb():.0f} MB)", flush=True)
    print(f"cpu_ms_per_letter workers={cpu_workers * 1000 / letters:.0f} request={cpu_request * 1000 / letters:.1f} "
          f"postgres_alive={cpu_pg * 1000 / letters:.1f} (workers include the outbox deliveries of the letters' "
          "notices; postgres counts only backends alive at the end)", flush=True)
    if notice_rss:
        print(f"# the results notice issued by a worker: request to issued {notice_rss[1]:.2f} s, "
              f"worker_peak_rss_mb_results_notice={notice_rss[0]:.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200, help="feedback letters in the batch (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--max-tasks-per-child", type=int, default=50, help="pool child recycling (default 50)")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of an earlier run")
    parser.add_argument("--skip-notice", action="store_true", help="only the feedback letters")
    args = parser.parse_args()

    t0 = time.perf_counter()
    if args.reuse and database_exists():
        attach(DB)
        office, round = reset()
        print(f"# reused {DB} ({time.perf_counter() - t0:.1f} s)", flush=True)
    else:
        _common.setup(DB)
        office, round, n_scores, n_results = seed()
        print(f"# seeded {n_results} units with stored results, {n_scores} item scores, 2 people per unit "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT version()")
        pg_version = cur.fetchone()[0].split(" on ")[0]
    print(f"# {pg_version}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
    if not args.skip_notice:
        results_notice(office, round)
    per_letter = letter_profile(office, round)
    feedback_letters(office, round, args.letters, args.workers, args.max_tasks_per_child, per_letter,
                     not args.skip_notice)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
