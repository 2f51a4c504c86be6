"""The seeds' own group tables, as the office would copy them into the import template's 考评组 sheet
(columns 组别, 组长, 副组长, 成员, 联络员, 联系电话, 联络员手机, 考评单位).

Transcribed from /work/shared/seeds/:
- 000 附件2 “调研考评分组情况” (2018 省党群机关绩效半年跟踪考评): four groups of 13/12/13/12 units; no
  leader, deputies or members are named (“由工委领导分别带队，考评组成员由省绩效办统一从省绩效考评专家库中抽调”),
  only a liaison with an office phone (→ 联系电话, the group's phone) and a mobile (→ 联络员手机).
- 003 附件1 “市直工委考核调研组分组及考核单位名单” (焦作 2016 “五型机关”): four groups of 22/15/23/22 units
  (the counts the notice states in “（22家）” etc., and what the lists hold), each with a 组长, a 副组长,
  成员 (one or two) and a 联系电话; no liaison.

Nothing was reconstructed in these two tables: the scraped text of both lists is intact (the counts
match the notice's own). What is copied is exactly the notice's text: names with their titles in
brackets, members on separate lines as the notice sets them, the typeset spaces in “杜  娟” and “张  英”,
the lists of units with their closing “。”. The descriptive line before each list (“第一、第二党建片区中的
机关单位（22家）。”) is not part of the list and is not copied.

The units' categories are not in the seeds' tables: `category_of` guesses one from the name for the
test's 单位 sheet (the test's assumption, not the seeds').
"""

SEED_000_GROUPS = [
    ["第一组", "", "", "", "建奇澍", "88902151", "15311135579",
     "省委办公厅、省委宣传部、省委统战部、省委政法委、省编办、省委老干部局、省委防范办、省委财经办、省密码管理局、省文明办、"
     "省委接待办、省社会主义学院、省直机关工委党校"],
    ["第二组", "", "", "", "高东", "88902259", "18304312631",
     "省纪委监委机关、省委组织部、省委政研室（省改革办）、省直机关工委、省信访局、省国家保密局、省档案局、省外宣办、省台办、"
     "省委党史研究室、省委党校（省行政学院）、省委保健办"],
    ["第三组", "", "", "", "于慕洋", "88902063", "18943191279",
     "省人大机关、省检察院、省总工会、省妇联、省科协、省工商联、省侨联、省台联、省贸促会、省残联、民革吉林省委机关、"
     "民盟吉林省委机关、民建吉林省委机关"],
    ["第四组", "", "", "", "马玥", "88792498", "13694308321",
     "省政协机关、省法院、团省委、省社会科学院、省作协、省文联、省法学会、省红十字会、民进吉林省委机关、农工党吉林省委机关、"
     "九三学社吉林省委机关、台盟省委机关"],
]
SEED_000_SIZES = [13, 12, 13, 12]

SEED_003_GROUPS = [
    ["第一考核调研组", "石书明（市直工委副书记）", "贾世平（市直工委办公室主任）",
     "陈东晓（市直工委办公室主任科员）\n孔倩雯（市直工委办公室科员）", "", "3568226", "",
     "市委办公室、市政府办公室、市纪委、市委组织部、市委宣传部、工业和信息化委、卫生计生委、民政局、文化广电新闻出版局、审计局、"
     "统计局、体育局、民宗委、市政府法制办、市政府外侨办、市政府研究室、人防办、事务管理局、爱卫办、供销社、地震局、文联。"],
    ["第二考核调研组", "陈修锋（市直工委副书记）", "李志青（市直工委组织部部长）",
     "杜  娟（市直工委组织部主任科员）\n王松利（市直机关团工委书记）", "", "3568222", "",
     "总工会、市政府国资委、教育局、交通运输局、农业局、环境保护局、粮食局、国税局、地税局、工商局、质监局、出入境检验检疫局、"
     "河务局、国家安全局、邮政管理局。"],
    ["第三考核调研组", "王晓垠（市直机关纪工委书记）", "王国凡（市直工委宣传部主任科员）",
     "王身健（市直机关纪工委副书记）", "", "3568225", "",
     "人大机关、政协机关、市委统战部、市委政法委、信访局、老干部局、团市委、妇联、发展改革委、商务局、城乡规划局、科技局、"
     "安全监管局、食品药品监管局、旅游局、林业局、市志办、农机局、检察院、司法局、科协、残联、红十字会。"],
    ["第四考核调研组", "史文洪（市直机关工会主席）", "丰菊梅（市直工委宣传部部长）",
     "张  英（市直机关工会主任科员）", "", "3568223", "",
     "市编办、市委农办、侨联、工商联、财政局、人力资源社会保障局、住房城乡建设局、城管局、水利局、畜牧局、中级法院、公路局、"
     "国土资源局、邮政局、国调队、烟草局、物资局、南水北调城区段、园林局、气象局、移民局、广利局。"],
]
SEED_003_SIZES = [22, 15, 23, 22]

_RULES = [
    (("民革", "民盟", "民建", "民进", "农工党", "九三学社", "台盟"), "民主党派机关"),
    (("法院", "检察院"), "法院检察院"),
    (("人大", "政协"), "人大政协机关"),
    (("工会", "妇联", "团省委", "团市委", "科协", "侨联", "台联", "残联", "文联", "作协", "红十字", "工商联", "贸促会",
      "法学会"), "群团组织"),
    (("省委", "市委", "纪委", "工委", "编办", "文明办", "外宣办", "台办", "保密局", "档案局", "社会主义学院"), "党委工作部门"),
]


def category_of(name: str) -> str:
    for words, category in _RULES:
        if any(word in name for word in words):
            return category
    return "政府工作部门"


def unit_rows(groups: list[list[str]]) -> list[list[object]]:
    """The 单位 sheet for the units the groups list (in their order)."""
    from cases.imports.sheets import split_list

    names = [name for group in groups for name in split_list(group[-1])]
    return [[name, "", category_of(name), "", n, ""] for n, name in enumerate(names, start=1)]
