"""Rubrics (评分细则): the document and its validation (`document`), YAML/JSON (`text`), Excel (`excel`),
uploads by file type (`upload`), and storing a rubric as a new version (`services`)."""
