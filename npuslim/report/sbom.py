"""A CycloneDX SBOM of a bundle (``sbom.cdx.json``), written with cyclonedx-python-lib.

One component per shipped file of the lock file: its bundle path as
``bom-ref``, name, version (the version resource of a DLL), sha256, the
licence found in the bundle's ``licenses/`` (its SPDX id when the text is one
npuslim recognises), and the supplier (Intel for the files of an OpenVINO
install, Microsoft for a shipped Visual C++ runtime). Dependency edges come
from the DLLs' import and delay-import tables (edges to files inside the
bundle) and from the run-time companions' loaders recorded in the manifest.
The bundle itself is the BOM's subject; the source it was extracted from
(a PyPI requirement or wheel as a ``pkg:pypi`` purl, or a path) is its
pedigree. When a source is a PyPI package (OpenVINO, and ONNX Runtime with
``--onnxruntime``) it is a component of its own with its purl, and the files
taken from it are nested in it; a shipped Visual C++ runtime DLL has its own
``pkg:generic`` purl. A file that ``pack`` rewrote (stripped, UPX-packed, CFG
or signature removed) carries a pedigree: the original file (its sha256) as
ancestor and notes saying what changed. What the target machine must provide
(the lock file's ``requirements``: Visual C++ runtime, driver, API sets, glibc)
are components with scope ``excluded``. Serial number and timestamp derive
from the lock file, so the same bundle gives the same SBOM.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType, Pedigree
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from npuslim import __version__, atomic
from npuslim.errors import InputError
from npuslim.formats.lock import BundleLock, LockedFile, PackRecord, read_lock
from npuslim.formats.pe import read_pe
from npuslim.layout import BIN, DLL_ROLES, LICENSES, LOCK_FILE, SBOM_FILE, Role

INTEL = "Intel Corporation"
MICROSOFT = "Microsoft Corporation"
ORT_LICENSE = "licenses/onnxruntime/LICENSE"  # where extract --onnxruntime puts ONNX Runtime's licence

# First lines that identify a licence text, and its SPDX id.
_LICENSE_MARKERS = (
    (re.compile(r"Apache License\s+Version 2\.0", re.I), "Apache-2.0"),
    (re.compile(r"Permission is hereby granted, free of charge", re.I), "MIT"),
    (re.compile(r"Boost Software License - Version 1\.0", re.I), "BSL-1.0"),
)
_PYPI_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[0-9][^-]*)-")
_PYPI_REQ = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*)\s*===?\s*(?P<version>[\w.!+]+)\s*$")


def detect_license(text: str) -> str | None:
    """The SPDX id of a licence text npuslim recognises (Apache-2.0, MIT, BSL-1.0), else ``None``."""
    head = text[:4000]
    return next((spdx for marker, spdx in _LICENSE_MARKERS if marker.search(head)), None)


def _licenses(bundle: Path, lock: BundleLock) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(SPDX id, the file it was read from, the other licence and notice files) of the bundle."""
    spdx, where, others = None, None, []
    for f in sorted(lock.files, key=lambda f: (f.path.count("/"), f.path)):
        if not f.path.startswith(f"{LICENSES}/"):
            continue
        try:
            text = (bundle / f.path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"{bundle / f.path}: cannot read: {exc.strerror or exc}") from exc
        found = detect_license(text) if spdx is None else None
        if found:
            spdx, where = found, f.path
        else:
            others.append(f.path)
    return spdx, where, tuple(others)


def _source_purl(origin: str) -> tuple[str, str] | None:
    """(name, version) on PyPI for a requirement such as ``openvino==2026.4.1`` or a wheel file."""
    m = _PYPI_REQ.match(origin)
    if m and not Path(origin).exists():
        return m.group("name").lower().replace("_", "-"), m.group("version")
    if origin.lower().endswith(".whl"):
        w = _PYPI_WHEEL.match(Path(origin).name)
        if w:
            return w.group("name").lower().replace("_", "-"), w.group("version")
    return None


def _bundle_imports(bundle: Path, lock: BundleLock) -> dict[str, tuple[str, ...]]:
    """Bundle path of each DLL -> the DLL names it imports or delay-imports (read from the file)."""
    out = {}
    for f in lock.files:
        if f.role in DLL_ROLES and f.path.startswith(f"{BIN}/"):
            info = read_pe(bundle / f.path)
            out[f.path] = tuple(dict.fromkeys(info.imports + info.delay_imports))
    return out


def _serial(lock: BundleLock) -> uuid.UUID:
    digest = hashlib.sha256()
    digest.update(lock.created.encode())
    for f in sorted(lock.files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.sha256}\n".encode())
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:npuslim:bundle:{digest.hexdigest()}")


def _timestamp(created: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class _BundleFacts:
    """What the components of one bundle's SBOM are made from, read once."""

    ov_version: str | None
    spdx: str | None                        # the licence of the OpenVINO files
    license_file: str | None                # where it was read
    notices: tuple[str, ...]                # the other licence and notice files
    imports: dict[str, tuple[str, ...]]     # bundle path of a DLL -> the DLL names it imports
    by_name: dict[str, LockedFile]          # lower-cased file name -> the bin/ file
    ort_license: str | None                 # ONNX Runtime's licence, when extract --onnxruntime put it there
    intel: OrganizationalEntity

    @classmethod
    def read(cls, bundle: Path, lock: BundleLock) -> _BundleFacts:
        spdx, license_file, notices = _licenses(bundle, lock)
        return cls(
            ov_version=lock.source.openvino_version, spdx=spdx, license_file=license_file, notices=notices,
            imports=_bundle_imports(bundle, lock),
            by_name={Path(f.path).name.lower(): f for f in lock.files if f.path.startswith(f"{BIN}/")},
            ort_license=next((f.path for f in lock.files if f.path == ORT_LICENSE), None),
            intel=OrganizationalEntity(name=INTEL),
        )


def _from_onnxruntime(f: LockedFile) -> bool:
    return f.path.startswith(f"{BIN}/") and Path(f.path).name.lower().startswith("onnxruntime")


def _supplier(f: LockedFile, facts: _BundleFacts) -> OrganizationalEntity | None:
    if f.role == Role.MSVC or _from_onnxruntime(f):
        return OrganizationalEntity(name=MICROSOFT)
    return facts.intel if facts.ov_version else None


def _properties(f: LockedFile, facts: _BundleFacts) -> list[Property]:
    """The npuslim facts of one file (role, reason, chain, signature, ...) as CycloneDX properties."""
    props = [Property(name="npuslim:role", value=f.role), Property(name="npuslim:reason", value=f.reason),
             Property(name="npuslim:size", value=str(f.size))]
    if f.chain:
        props.append(Property(name="npuslim:chain", value=" -> ".join(f.chain)))
    if f.feature:
        props.append(Property(name="npuslim:feature", value=f.feature))
    if f.signature is not None:
        props.append(Property(name="npuslim:signature", value=f.signature))
    if f.cfg is not None:
        props.append(Property(name="npuslim:cfg", value=str(f.cfg).lower()))
    if f.path in facts.imports:
        props.append(Property(name="npuslim:imports", value=", ".join(facts.imports[f.path]) or "-"))
    if f.pack is not None:
        props.append(Property(name="npuslim:original_sha256", value=f.pack.original_sha256))
    return props


def _changes(pack: PackRecord) -> list[str]:
    """What ``pack`` did to a file, in words (empty: nothing changed it)."""
    done = [("stripped", pack.stripped), ("UPX-packed", pack.upx == "packed"),
            ("Control Flow Guard flag cleared", pack.cfg_disabled),
            ("Authenticode signature removed", pack.signature_removed)]
    return [what for what, happened in done if happened]


def _pedigree(f: LockedFile) -> Pedigree | None:
    """The original of a file ``pack`` rewrote: its sha256 and size, and a note of what changed."""
    if f.pack is None or f.pack.original_sha256 == f.sha256:
        return None
    changes = _changes(f.pack) or ["rewritten by npuslim pack"]
    original = Component(
        type=ComponentType.LIBRARY if f.role in DLL_ROLES else ComponentType.FILE, name=Path(f.path).name,
        bom_ref=f"{f.path}#original", version=f.file_version,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=f.pack.original_sha256)],
        properties=[Property(name="npuslim:size", value=str(f.pack.original_size))],
    )
    return Pedigree(ancestors=[original], notes=f"npuslim pack: {'; '.join(changes)}")


def _own_purl(f: LockedFile) -> PackageURL | None:
    """A file that is not part of a package the bundle came from: the Visual C++ runtime."""
    if f.role == Role.MSVC:
        return PackageURL(type="generic", namespace="microsoft", name=Path(f.path).name.lower(),
                          version=f.file_version)
    return None


def _component(f: LockedFile, facts: _BundleFacts) -> Component:
    """One file of the lock file as a component: a library for a DLL, a file otherwise."""
    props = _properties(f, facts)
    licenses = []
    if _from_onnxruntime(f):  # ONNX Runtime (onnxruntime-openvino wheel) is MIT-licensed
        if facts.ort_license:
            licenses.append(DisjunctiveLicense(id="MIT"))
            props.append(Property(name="npuslim:license_file", value=facts.ort_license))
    elif facts.spdx and f.role != Role.MSVC:
        licenses.append(DisjunctiveLicense(id=facts.spdx))
        props.append(Property(name="npuslim:license_file", value=facts.license_file or ""))
    return Component(
        type=ComponentType.LIBRARY if f.role in DLL_ROLES else ComponentType.FILE,
        name=Path(f.path).name, bom_ref=f.path, version=f.file_version, supplier=_supplier(f, facts),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=f.sha256)],
        licenses=licenses, properties=props, purl=_own_purl(f), pedigree=_pedigree(f),
    )


def _subject(name: str, lock: BundleLock, facts: _BundleFacts) -> Component:
    """The bundle itself, with the source it was extracted from as its pedigree."""
    source = lock.source
    pypi = _source_purl(source.origin)
    origin_props = [Property(name="npuslim:origin", value=source.origin),
                    Property(name="npuslim:layout", value=source.layout)]
    if pypi is None:
        origin_props.append(Property(name="npuslim:path", value=source.root))
    ancestor = Component(
        type=ComponentType.LIBRARY, name=pypi[0] if pypi else "openvino" if facts.ov_version else "source",
        version=pypi[1] if pypi else facts.ov_version, bom_ref="source",
        purl=PackageURL(type="pypi", name=pypi[0], version=pypi[1]) if pypi else None,
        supplier=facts.intel if facts.ov_version else None,
        licenses=[DisjunctiveLicense(id=facts.spdx)] if facts.spdx else [], properties=origin_props,
    )
    bundle_props = [Property(name="npuslim:manifest", value=lock.manifest.name),
                    Property(name="npuslim:features", value=", ".join(lock.features) or "-")]
    bundle_props += [Property(name="npuslim:notice_file", value=n) for n in facts.notices]
    return Component(
        type=ComponentType.LIBRARY, name=name, version=facts.ov_version, bom_ref="bundle",
        description=f"npuslim bundle of {source.origin or 'an OpenVINO install'}",
        pedigree=Pedigree(ancestors=[ancestor]), properties=bundle_props,
    )


_REQUIREMENT_TYPES = {"driver": ComponentType.DEVICE_DRIVER, "windows": ComponentType.OPERATING_SYSTEM,
                      "system": ComponentType.OPERATING_SYSTEM}


def _requirements(lock: BundleLock) -> list[Component]:
    """What the target must provide (the lock file's ``requirements``), scope ``excluded``: described, not shipped."""
    return [Component(
        type=_REQUIREMENT_TYPES.get(r.kind, ComponentType.LIBRARY), name=r.name,
        bom_ref=f"requirement:{i}:{r.kind}", scope=ComponentScope.EXCLUDED, description=r.note,
        properties=[Property(name="npuslim:requirement", value=r.kind),
                    Property(name="npuslim:provides", value=", ".join(r.dlls) or "-")],
    ) for i, r in enumerate(lock.requirements)]


def _package(origin: str, version: str | None, *, supplier: str) -> Component | None:
    """The PyPI package a source is (``pkg:pypi`` purl), or ``None`` for a folder or file of DLLs."""
    pypi = _source_purl(origin)
    if pypi is None:
        return None
    purl = PackageURL(type="pypi", name=pypi[0], version=pypi[1])
    return Component(type=ComponentType.LIBRARY, name=pypi[0], version=pypi[1] or version, purl=purl,
                     bom_ref=f"package:{purl}", supplier=OrganizationalEntity(name=supplier),
                     properties=[Property(name="npuslim:origin", value=origin)])


def _nest(lock: BundleLock, facts: _BundleFacts, components: dict[str, Component]) -> list[Component]:
    """The BOM's top level: each package with the files taken from it nested, then the other files."""
    openvino = _package(lock.source.origin, facts.ov_version, supplier=INTEL)
    ort_source = lock.source.onnxruntime
    ort = _package(ort_source.origin, ort_source.onnxruntime_version,
                   supplier=MICROSOFT) if ort_source else None
    nested: dict[str, list[Component]] = {"openvino": [], "onnxruntime": []}
    top: list[Component] = []
    for f in lock.files:
        from_ort = _from_onnxruntime(f) or f.path.startswith(f"{LICENSES}/onnxruntime/")
        if from_ort and ort is not None:
            nested["onnxruntime"].append(components[f.path])
        elif not from_ort and f.role != Role.MSVC and openvino is not None:
            nested["openvino"].append(components[f.path])
        else:
            top.append(components[f.path])
    packages = []
    for key, package in (("openvino", openvino), ("onnxruntime", ort)):
        if package is not None and nested[key]:
            package.components = nested[key]
            packages.append(package)
    return packages + top


def _register_dependencies(bom: Bom, lock: BundleLock, facts: _BundleFacts, components: dict[str, Component],
                           subject: Component) -> None:
    """Edges: a DLL's imports inside the bundle and the companions it loads; the bundle -> its top files."""
    by_name = facts.by_name
    loaded_by: dict[str, list[str]] = {}
    for f in lock.files:
        if f.role == Role.COMPANION and len(f.chain) >= 2 and f.chain[-2].lower() in by_name:
            loaded_by.setdefault(by_name[f.chain[-2].lower()].path, []).append(f.path)
    top = []
    for f in lock.files:
        if f.path not in facts.imports:
            continue
        targets = [by_name[n.lower()].path for n in facts.imports[f.path] if n.lower() in by_name]
        targets += loaded_by.get(f.path, [])
        bom.register_dependency(components[f.path], [components[t] for t in dict.fromkeys(targets)])
        if len(f.chain) <= 1 or f.chain[0].lower() not in by_name:
            top.append(components[f.path])  # a root, or loaded by the application (the C API)
    bom.register_dependency(subject, top)


def sbom_json(bundle: Path, lock: BundleLock | None = None, *, name: str | None = None) -> str:
    """The CycloneDX 1.6 JSON document for ``bundle`` (its manifest ``lock``, read when not given).

    ``name`` names the bundle (default: the folder's name; give it when
    ``bundle`` is a staging folder). Raises ``InputError`` when a file of the
    bundle cannot be read.
    """
    if lock is None:
        lock = read_lock(bundle, LOCK_FILE)
    facts = _BundleFacts.read(bundle, lock)
    components = {f.path: _component(f, facts) for f in lock.files}
    subject = _subject(name or bundle.name, lock, facts)
    tools = ToolRepository(components=[Component(type=ComponentType.APPLICATION, name="npuslim",
                                                 version=__version__)])
    bom = Bom(
        serial_number=_serial(lock),
        metadata=BomMetaData(component=subject, timestamp=_timestamp(lock.created), tools=tools),
        components=[*_nest(lock, facts, components), *_requirements(lock)],
    )
    _register_dependencies(bom, lock, facts, components, subject)
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def write_sbom(bundle: Path, lock: BundleLock | None = None, *, name: str | None = None) -> Path:
    """Write ``sbom.cdx.json`` into ``bundle`` (whole or not at all) and return its path.

    Call it again after anything rewrites the bundle's files (pack), so that
    the hashes are those of the files shipped.
    """
    text = sbom_json(bundle, lock, name=name)
    dest = bundle / SBOM_FILE
    atomic.write_text(dest, text)
    return dest
