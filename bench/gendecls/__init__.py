"""The benchmark corpus generator behind bench/gen_decls.py: `common` (what both languages share),
`fillers` (the ordinary code around the declarations, both languages), `python` and `typescript`
(each language's declarations and file layout), `corpus` (writing and verifying a corpus)."""
from .corpus import LANGS, file_name, generate_file, verify, write_corpus

__all__ = ["LANGS", "file_name", "generate_file", "verify", "write_corpus"]
