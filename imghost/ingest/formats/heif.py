"""HEIF (HEIC) and AVIF: the image items of ISO/IEC 23008-12, walked without decoding a pixel.

What decoding the primary image will touch is checked here, so that no decoder meets a bomb
or a cut file: the picture exists and is coded as its brands say (HEVC for HEIF, AV1 for
AVIF), directly or as a grid of such tiles; every coded picture (tiles, alpha plane) has its
size (`ispe`); their data lie inside the file. Files that hold an image sequence (a `moov`
box) are refused: we store a still picture. The EXIF orientation is read from the Exif item.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from imghost.ingest.formats._common import (
    UNSUPPORTED,
    Budget,
    FormatError,
    Structure,
    damaged,
    tiff_orientation,
    truncated,
)
from imghost.ingest.formats.isobmff import Box, Fields, boxes
from imghost.ingest.formats.table import FORMATS

_STILL_BRANDS = frozenset({b"mif1", b"heic", b"heix", b"heim", b"heis", b"avif"})
# The major brands of files whose main content is a sequence (a track), not an image item.
_SEQUENCE_BRANDS = frozenset({b"msf1", b"hevc", b"hevx", b"hevm", b"hevs", b"avis"})
_AV1_BRANDS = frozenset({b"avif", b"avis"})
_CODING = {"heif": b"hvc1", "avif": b"av01"}
_GRID = b"grid"
_ALPHA = (b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", b"urn:mpeg:hevc:2015:auxid:1")
# Each box, item entry, extent, property association and reference costs a unit of Python
# work; a legitimate file spends a few per hundred bytes, one made of nothing but tiny entries
# (millions of 1-byte associations) would burn seconds of parse time.
_BYTES_PER_UNIT = 16
# (quarter turns anticlockwise, then mirrored left-right) -> EXIF orientation.
_EXIF_ORIENTATION = {
    (0, False): 1,
    (0, True): 2,
    (2, False): 3,
    (2, True): 4,
    (3, True): 5,
    (3, False): 6,
    (1, True): 7,
    (1, False): 8,
}
Location = tuple[int, int, list[tuple[int, int]]]  # construction method, base, extents


def sniff(head: bytes) -> str | None:
    """ "heif", "avif", or the name of their sequence kinds, from an `ftyp` box's brands.

    Any AV1 brand makes it AVIF: a generic `mif1` file that lists `avif` among its compatible
    brands holds AV1 pictures, which is what the AVIF brand promises.
    """
    if head[4:8] != b"ftyp" or len(head) < 12:
        return None
    (size,) = struct.unpack_from(">I", head)
    compatible = head[16 : min(size, len(head))]
    brands = {head[8:12]} | {compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4)}
    if not brands & (_STILL_BRANDS | _SEQUENCE_BRANDS):
        return None
    family = "avif" if brands & _AV1_BRANDS else "heif"
    return f"{family}-sequence" if head[8:12] in _SEQUENCE_BRANDS else family


def parse(view: memoryview, max_frames: int) -> Structure:
    budget = Budget(view, _BYTES_PER_UNIT, "image", "boxes and items")
    top = list(boxes(view, 0, len(view), budget, top=True))
    if not top or top[0].kind != b"ftyp":
        raise damaged("The image does not begin with its 'ftyp' box")
    kind = sniff(bytes(view[: top[0].end]))
    if kind is None:
        raise damaged("The image's 'ftyp' box names no HEIF or AVIF brand")
    if kind not in _CODING or any(box.kind == b"moov" for box in top):
        raise FormatError(UNSUPPORTED, FORMATS[kind.split("-")[0] + "-sequence"].refusal)
    metas = [box for box in top if box.kind == b"meta"]
    if len(metas) != 1:
        raise damaged(f"The {FORMATS[kind].label} has {len(metas)} 'meta' boxes instead of one")
    return _Meta(view, metas[0], budget, kind).structure()


@dataclass(slots=True)
class _Item:
    kind: bytes = b""
    properties: list[Box] = field(default_factory=list)  # in association order
    refs: dict[bytes, list[int]] = field(default_factory=dict)


class _Meta:
    """The `meta` box: items, where their data lie, their properties and references."""

    def __init__(self, view: memoryview, meta: Box, budget: Budget, kind: str) -> None:
        self.view = view
        self.budget = budget
        self.kind = kind
        self.label = FORMATS[kind].label
        self.items: dict[int, _Item] = {}
        self.locations: dict[int, Location] = {}
        children: dict[bytes, Box] = {}
        for box in boxes(view, meta.body + 4, meta.end, budget):
            if box.kind in children:
                raise damaged(f"The {self.label} has two '{box.name}' boxes")
            children[box.kind] = box
        for required in (b"hdlr", b"pitm", b"iinf", b"iloc", b"iprp"):
            if required not in children:
                raise damaged(f"The {self.label} has no '{required.decode()}' box")
        self.idat = children.get(b"idat")
        handler = Fields(view, children[b"hdlr"])
        handler.uint(8)  # version, flags, pre_defined
        if handler.fourcc() != b"pict":
            raise damaged(f"The {self.label}'s metadata does not describe a picture")
        pitm = Fields(view, children[b"pitm"])
        self.primary = pitm.uint(2 if pitm.full_box()[0] == 0 else 4)
        self._read_items(children[b"iinf"])
        self._read_locations(children[b"iloc"])
        self._read_properties(children[b"iprp"])
        if b"iref" in children:
            self._read_references(children[b"iref"])

    def _read_items(self, iinf: Box) -> None:
        fields = Fields(self.view, iinf)
        fields.uint(2 if fields.full_box()[0] == 0 else 4)  # the entry count the boxes give
        for infe in boxes(self.view, fields.pos, iinf.end, self.budget):
            entry = Fields(self.view, infe)
            version, _flags = entry.full_box()
            if infe.kind != b"infe" or version < 2:
                continue  # item types came with version 2; older entries name no picture
            item_id = entry.uint(2 if version == 2 else 4)
            entry.uint(2)  # item_protection_index
            self.items[item_id] = _Item(kind=entry.fourcc())

    def _read_locations(self, iloc: Box) -> None:
        fields = Fields(self.view, iloc)
        version, _flags = fields.full_box()
        sizes = fields.uint(2)
        offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
        base_size, index_size = (sizes >> 4) & 0xF, sizes & 0xF if version else 0
        for _ in range(fields.uint(2 if version < 2 else 4)):
            self.budget.spend()
            item_id = fields.uint(2 if version < 2 else 4)
            method = fields.uint(2) & 0xF if version else 0
            if fields.uint(2) != 0:
                raise FormatError(
                    UNSUPPORTED, f"The {self.label} keeps its picture in another file."
                )
            base = fields.uint(base_size)
            extents = []
            for _ in range(fields.uint(2)):
                self.budget.spend()
                fields.uint(index_size)
                extents.append((fields.uint(offset_size), fields.uint(length_size)))
            self.locations[item_id] = (method, base, extents)

    def _read_properties(self, iprp: Box) -> None:
        containers = list(boxes(self.view, iprp.body, iprp.end, self.budget))
        found = [box for box in containers if box.kind == b"ipco"]
        if not found:
            raise damaged(f"The {self.label} has no item properties ('ipco' box)")
        properties = list(boxes(self.view, found[0].body, found[0].end, self.budget))
        for ipma in (box for box in containers if box.kind == b"ipma"):
            fields = Fields(self.view, ipma)
            version, flags = fields.full_box()
            for _ in range(fields.uint(4)):
                item = self.items.get(fields.uint(2 if version < 1 else 4), _Item())
                for _ in range(fields.uint(1)):
                    self.budget.spend()
                    index = fields.uint(2) & 0x7FFF if flags & 1 else fields.uint(1) & 0x7F
                    if index > len(properties):
                        raise damaged(f"The {self.label} refers to a property it does not have")
                    if index:
                        item.properties.append(properties[index - 1])

    def _read_references(self, iref: Box) -> None:
        fields = Fields(self.view, iref)
        id_size = 2 if fields.full_box()[0] == 0 else 4
        for reference in boxes(self.view, fields.pos, iref.end, self.budget):
            entry = Fields(self.view, reference)
            source = self.items.get(entry.uint(id_size))
            targets = []
            for _ in range(entry.uint(2)):
                self.budget.spend()
                targets.append(entry.uint(id_size))
            if source is not None:
                source.refs.setdefault(reference.kind, []).extend(targets)

    def structure(self) -> Structure:
        primary = self._item(self.primary)
        width, height = self._size(primary)
        parts = self._parts(self.primary)
        for item_id, item in self.items.items():
            if self.primary in item.refs.get(b"auxl", []) and self._is_alpha(item):
                parts += self._parts(item_id)
        transformed, turns, mirrored = self._transformations(primary)
        orientation = _EXIF_ORIENTATION[(turns, mirrored)] if transformed else self._exif()
        return Structure(
            format=self.kind,
            width=width,
            height=height,
            frames=1,
            length=len(self.view),
            keep=((0, len(self.view)),),
            reencode=True,
            orientation=orientation,
            transformed=transformed,
            parts=tuple(parts),
        )

    def _item(self, item_id: int) -> _Item:
        item = self.items.get(item_id)
        if item is None:
            raise damaged(f"The {self.label} lists a picture (item {item_id}) it does not hold")
        return item

    def _property(self, item: _Item, kind: bytes) -> Fields | None:
        for box in item.properties:
            if box.kind == kind:
                fields = Fields(self.view, box)
                fields.full_box()
                return fields
        return None

    def _size(self, item: _Item) -> tuple[int, int]:
        ispe = self._property(item, b"ispe")
        if ispe is None:
            raise damaged(f"The {self.label} does not give the size of its picture ('ispe')")
        width, height = ispe.uint(4), ispe.uint(4)
        if not width or not height:
            raise damaged(f"The {self.label}'s picture is {width}x{height} pixels")
        return width, height

    def _is_alpha(self, item: _Item) -> bool:
        auxc = self._property(item, b"auxC")
        return auxc is not None and auxc.text() in _ALPHA

    def _parts(self, item_id: int) -> list[tuple[int, int]]:
        """The sizes of the coded pictures that make up `item_id`, whose data must be here."""
        item = self._item(item_id)
        coding = _CODING[self.kind]
        if item.kind == coding:
            self._extents(item_id)
            return [self._size(item)]
        if item.kind != _GRID:
            raise FormatError(
                UNSUPPORTED,
                f"The {self.label}'s picture is coded as '{item.kind.decode('latin-1')}', not "
                f"{coding.decode()}, which is not accepted. Convert it to JPEG and try again.",
            )
        tiles = item.refs.get(b"dimg", [])
        for tile in tiles:
            if self._item(tile).kind != coding:
                raise damaged(f"The {self.label}'s grid holds a tile that is not a picture")
            self._extents(tile)
        sizes = [self._size(self._item(tile)) for tile in tiles]
        self._check_grid(item_id, sizes)
        return sizes

    def _check_grid(self, grid_id: int, tiles: list[tuple[int, int]]) -> None:
        """ISO/IEC 23008-12 6.6.2.3: rows x columns tiles of one size that cover the picture."""
        payload = self._read(grid_id)
        wide = len(payload) >= 2 and payload[1] & 1
        if len(payload) < (12 if wide else 8):
            raise damaged(f"The {self.label}'s grid description is too short")
        rows, columns = payload[2] + 1, payload[3] + 1
        size = struct.unpack_from(">II" if wide else ">HH", payload, 4)
        if size != self._size(self._item(grid_id)):
            raise damaged(f"The {self.label}'s grid and its 'ispe' disagree on its size")
        if len(tiles) != rows * columns or len(set(tiles)) != 1:
            raise damaged(f"The {self.label}'s grid does not have {rows}x{columns} equal tiles")
        (tile_width, tile_height), (width, height) = tiles[0], size
        if tile_width * columns < width or tile_height * rows < height:
            raise damaged(f"The {self.label}'s grid tiles do not cover its picture")

    def _extents(self, item_id: int) -> list[tuple[int, int]]:
        """Where the item's data lie in the file, checked to be inside it."""
        location = self.locations.get(item_id)
        if location is None or not location[2]:
            raise damaged(f"The {self.label} has no data for its item {item_id}")
        method, base, extents = location
        if method == 0:
            start, end = 0, len(self.view)
        elif method == 1 and self.idat is not None:
            start, end = self.idat.body, self.idat.end
        else:
            raise damaged(f"The {self.label} locates item {item_id} where no decoder looks")
        ranges = []
        for offset, length in extents:
            first = start + base + offset
            last = end if length == 0 else first + length
            if last > end and method == 0:
                raise truncated(f"The {self.label} ends before the data of its item {item_id}")
            if last > end:
                raise damaged(f"The {self.label}'s item {item_id} runs past its 'idat' box")
            ranges.append((first, last))
        return ranges

    def _read(self, item_id: int) -> bytes:
        return b"".join(bytes(self.view[first:last]) for first, last in self._extents(item_id))

    def _transformations(self, item: _Item) -> tuple[bool, int, bool]:
        """Whether the item has irot/imir, and the quarter turns and mirroring they add up to.

        Applied in the order listed, each after the last: a turn after a mirroring turns the
        other way round, and a top-bottom mirror is a left-right one after a half turn.
        """
        transformed, turns, mirrored = False, 0, False
        for box in item.properties:
            if box.kind not in (b"irot", b"imir"):
                continue
            if box.end == box.body:
                raise damaged(f"The {self.label}'s '{box.name}' box is empty")
            transformed = True
            value = self.view[box.body]
            if box.kind == b"irot":
                angle = value & 3  # anticlockwise quarter turns
                turns = (turns - angle if mirrored else turns + angle) % 4
            else:
                # Axis 0 exchanges top and bottom, 1 left and right (23008-12:2022 6.5.12).
                turns = (turns + 2 * (1 - (value & 1))) % 4
                mirrored = not mirrored
        return transformed, turns, mirrored

    def _exif(self) -> int:
        """The EXIF orientation of the primary picture's Exif item, 1 without one."""
        for item_id, item in self.items.items():
            if item.kind == b"Exif" and self.primary in item.refs.get(b"cdsc", []):
                data = self._read(item_id)
                if len(data) < 4:
                    return 1
                (skip,) = struct.unpack_from(">I", data)
                return tiff_orientation(data[4 + skip :])
        return 1
