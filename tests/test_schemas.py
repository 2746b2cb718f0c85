import re
from pathlib import Path

from voicelake.schemas import SOURCES

DOC = Path(__file__).parents[1] / "docs" / "sources.md"


def test_docs_list_every_source_field_with_its_type() -> None:
    text = DOC.read_text()
    for source in SOURCES.values():
        section = text.split(f"## {source.name}\n", 1)[1].split("\n## ", 1)[0]
        documented = dict(re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.M))
        assert documented == {f.name: f.type for f in source.fields}, source.name
