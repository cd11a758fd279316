"""Generators declared without Python: a `generators.yaml` of name, family and description.

A lab's own image-to-image method needs no plugin module. Write it into a YAML file

    generators:
      - name: MyWeatherGAN          # what `gen_<name>` will be; the users' own spelling
        family: gan                 # gan | diffusion | classical | weather_simulation | control | external
        description: our adverse-weather GAN (2026)
        aliases: [my-weather-gan]   # optional: other spellings

and prove reads it: `./generators.yaml` in the working folder, every file named in
`PROVE_GENERATORS` (comma-separated paths), and `generators.yaml` beside a sweep file. The
declared generators are external: their images come in through a manifest, as for the
users' other methods. Files are read once; the CLI passes the ones it read on to sweep
workers (local processes and cluster tasks) through PROVE_GENERATORS.
"""

from __future__ import annotations

import os
from pathlib import Path

from prove.errors import ProveError
from prove.generators.base import FAMILIES, GENERATORS, Generator

FILE_NAME = "generators.yaml"
ENV = "PROVE_GENERATORS"
KEYS = ("name", "family", "description", "aliases")
HOW_TO_DECLARE = (f"declare it in a {FILE_NAME} (in the working folder, beside the sweep file, or named in "
                  f"${ENV}):\n  generators:\n    - {{name: <name>, family: <{'|'.join(FAMILIES)}>, "
                  "description: <one line>}\n(docs/generated-images.md#declaring-a-generator)")

_loaded: dict[Path, list[str]] = {}  # file -> the names it declared


def load_generator_file(path: str | os.PathLike) -> list[str]:
    """Declare the generators of one YAML file (once per file); returns their names."""
    from prove.files import read_yaml

    path = Path(path).expanduser().resolve()
    if path in _loaded:
        return _loaded[path]
    data = read_yaml(path, "generators")
    entries = data.get("generators") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise ProveError(f"generators file {path}: expected `generators:` with a list of {{name, family, "
                         "description}} mappings")
    generators = [_generator(path, i, entry) for i, entry in enumerate(entries, 1)]
    for gen in generators:  # all validated first: a bad file declares nothing
        if gen.name in GENERATORS:
            known = GENERATORS.get(gen.name)
            raise ProveError(f"generators file {path}: {gen.name!r} is already declared (as {known.name!r}, "
                             f"{known.family}, by {GENERATORS.origin(known.name)}); give it another name or "
                             "remove it from the file")
    for gen in generators:
        GENERATORS.add(gen.name, gen, gen.aliases, origin=f"file:{path}")
    _loaded[path] = [g.name for g in generators]
    return _loaded[path]


def _generator(path: Path, number: int, entry) -> Generator:
    where = f"generators file {path}, entry {number}"
    if not isinstance(entry, dict):
        raise ProveError(f"{where}: expected a mapping with {', '.join(KEYS)}; got {entry!r}")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ProveError(f"{where}: unknown key(s) {unknown}; accepted: {', '.join(KEYS)}")
    name = str(entry.get("name") or "").strip()
    if not name:
        raise ProveError(f"{where}: `name` is required")
    family = str(entry.get("family") or "external").strip()
    if family not in FAMILIES:
        raise ProveError(f"{where} ({name}): family {family!r} is not accepted; accepted: {', '.join(FAMILIES)}")
    aliases = entry.get("aliases") or []
    if isinstance(aliases, str) or not all(isinstance(a, str) for a in aliases):
        raise ProveError(f"{where} ({name}): `aliases` must be a list of names")
    description = str(entry.get("description") or f"{name} ({family}), declared in {path.name}")
    return Generator(name, family, description, external=True, aliases=tuple(aliases))


def declared_files(extra: tuple[str | os.PathLike, ...] = ()) -> list[Path]:
    """The generator files in effect: $PROVE_GENERATORS, ./generators.yaml, and `extra`."""
    named = [p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip()]
    found = [Path(p) for p in named]
    here = Path.cwd() / FILE_NAME
    if here.is_file():
        found.append(here)
    return [*found, *(Path(p) for p in extra)]


def load_declared_generators(extra: tuple[str | os.PathLike, ...] = ()) -> list[str]:
    """Read every generator file in effect, and name them in PROVE_GENERATORS so the processes
    this one starts (sweep workers, cluster tasks) declare the same generators."""
    names, paths = [], []
    for path in declared_files(extra):
        if not path.is_file():
            raise ProveError(f"{ENV} names {str(path)!r}, which is not a file")
        names += load_generator_file(path)
        paths.append(str(path.resolve()))
    if paths:
        os.environ[ENV] = ",".join(dict.fromkeys(paths))
    return names
