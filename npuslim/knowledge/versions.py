"""Release numbers and version ranges, with ``packaging`` (PEP 440) doing the parsing and comparing.

npuslim compares *releases*: OpenVINO ``2026.4.1.22982`` (a DLL's file version),
``2024.6.0-17404-4c0f47d2335`` (a build string), ``2026.0.0.dev20251101`` (a
nightly's dist-info) and an MSVC linker ``14.38``. Only the numeric release
counts: pre-, post-, dev- and build suffixes are dropped, so a nightly of 2026.0
is 2026.0 and ``>=2026.0`` holds for it. Missing parts are zeros
(``2024.3 == 2024.3.0.0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # packaging is imported where a version is first compared (verify never does)
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

# the release at the start of a string that is not PEP 440 (an OpenVINO build string)
_LEADING_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def parse_version(text: str) -> Version:
    """The release of ``text`` as a ``Version``: ``"2026.4.1.22982"`` -> ``Version("2026.4.1.22982")``.

    A PEP 440 version keeps its release part; anything else (an OpenVINO build
    string such as ``2024.6.0-17404-4c0f47d2335``) keeps its leading dotted
    numbers. ``ValueError`` when ``text`` starts with no number.
    """
    from packaging.version import Version

    stripped = text.strip()
    try:
        return Version(".".join(map(str, Version(stripped).release)))
    except ValueError:  # InvalidVersion, or a number past int()'s digit limit
        pass
    head = _LEADING_RELEASE.match(stripped)
    try:
        if head is None:
            raise ValueError
        return Version(head.group())
    except ValueError:
        raise ValueError(f"not a version: {text[:60]!r}") from None


@dataclass(frozen=True)
class VersionRange:
    """A PEP 440 specifier set such as ``>=2024.0,<2026.1``; empty matches every release.

    ``ValueError`` when ``text`` is not one. ``contains`` compares releases only
    (see the module docstring), so pre-releases are never excluded.
    """

    text: str
    # no clause at all for an empty text: a manifest's default range costs no import of packaging
    specifiers: SpecifierSet | tuple[()] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.text.strip():
            object.__setattr__(self, "specifiers", ())
            return
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        try:
            specifiers = SpecifierSet(self.text)
            for clause in specifiers:  # packaging parses a clause's version on first use
                clause.contains(Version("0"), prereleases=True)
        except ValueError:  # InvalidSpecifier, or a release number past int()'s digit limit
            shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
            raise ValueError(f"bad version range {shown!r} (expected clauses such as >=2024.0,<2026.1)") from None
        object.__setattr__(self, "specifiers", specifiers)

    def contains(self, version: str) -> bool:
        release = parse_version(version)  # a text that is no version is a ValueError, in any range
        return not self.specifiers or self.specifiers.contains(release, prereleases=True)

    def lower_bounds(self) -> tuple[str, ...]:
        """The versions of the ``>=`` clauses, as written."""
        return tuple(s.version for s in self.specifiers if s.operator == ">=")

    def is_open_ended(self) -> bool:
        """True when no ``<`` or ``<=`` clause bounds the range from above."""
        return not any(s.operator in ("<", "<=") for s in self.specifiers)
