"""Office files are zip archives of XML: sized up before anything is unpacked, and parsed with no entities or network.

A zip bomb hides in any entry (a 2 GB « image » as well as XML), in thousands of tiny entries, or in one entry that
compresses a thousandfold; each is refused with one clear line instead of filling memory.
"""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from index.errors import ExtractionError

MAX_UNZIPPED = 64 * 2**20  # a document a person wrote, images included, is far smaller
MAX_ENTRIES = 5000  # LibreOffice and Word write tens; a few hundred with many images
MAX_RATIO = 200  # XML compresses 5 to 30 times; a thousandfold entry is padding
_RATIO_FROM = 2 * 2**20  # small entries (an empty settings.xml) may compress far better; they cannot fill memory


def open_archive(raw: bytes, kind: str) -> zipfile.ZipFile:
    """The zip, once every entry's declared size, the entry count and each compression ratio are sane."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError(f"is not a valid {kind} file (not a readable zip archive); skipped") from exc
    if len(entries) > MAX_ENTRIES:
        raise ExtractionError(f"holds {len(entries)} zip entries, over the {MAX_ENTRIES} a document has "
                              "(a zip bomb?); skipped")
    unzipped = sum(i.file_size for i in entries)
    if unzipped > MAX_UNZIPPED:
        raise ExtractionError(f"expands to {unzipped / 2**20:.0f} MB when unzipped, over the "
                              f"{MAX_UNZIPPED // 2**20} MB cap (a zip bomb?); skipped")
    for info in entries:
        if info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ExtractionError(f"has an entry ({info.filename}) compressed {info.file_size // max(info.compress_size, 1)}"
                                  f" times, over the {MAX_RATIO}× a document reaches (a zip bomb?); skipped")
    return archive


def _parser() -> etree.XMLParser:
    """libxml2 with entities left unresolved, no DTD loaded and no network: XML from a stranger stays inert."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True)


def parse_entry(archive: zipfile.ZipFile, name: str, kind: str) -> etree._Element | None:
    """One XML entry of the archive (None when it is absent); a DTD or broken XML is refused in one line."""
    try:
        data = archive.read(name)
    except KeyError:
        return None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # bad CRC, truncated member
        raise ExtractionError(f"is not a valid {kind} file ({name} cannot be unzipped); skipped") from exc
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise ExtractionError(f"is not a valid {kind} file ({name} is not well-formed XML); skipped") from exc
    if root.getroottree().docinfo.internalDTD is not None:
        raise ExtractionError(f"declares a DTD in {name} (entities are refused); skipped")
    return root
