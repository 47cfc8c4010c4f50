"""Each preset's variant of a 12 MP photo against a plain Pillow full decode + LANCZOS resize.

    .venv/bin/python -m bench.variants [--runs 7]

The source is a photo-like 4032x3024 JPEG at quality 92 (gradients, edges and grain, made here
with Pillow). For each preset, `make_variant` (decode, resize, colour, encode, write) and the
plain way (`Image.open`, `load`, `resize(size, LANCZOS)`, no encode) to the same pixel size run
alternately in this process; the table gives the median of the runs and their ratio (target
<= 0.5). Peak memory is each one's RSS peak in a fresh process above its RSS just before
(Pillow's pixel buffers are invisible to tracemalloc). These machines are shared
and noisy: only ratios from one run compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from PIL import Image, ImageDraw

from imghost.vision.presets import PRESETS, Preset
from imghost.vision.variants import make_variant

HERE = Path(__file__).resolve().parent
SIZE = (4032, 3024)


@dataclass(frozen=True)
class Row:
    preset: str
    size: str
    decode: str  # how the variant was made: the JPEG decode scale, or a copy of the bytes
    variant_ms: float
    plain_ms: float
    ratio: float
    variant_peak_mib: float
    plain_peak_mib: float
    variant_bytes: int


def photo_jpeg(path: Path) -> Path:
    width, height = SIZE
    ramp, disc = Image.linear_gradient("L"), Image.radial_gradient("L")
    bands = (ramp.resize(SIZE), ramp.rotate(90).resize(SIZE), disc.resize(SIZE))
    image = Image.merge("RGB", bands)
    draw = ImageDraw.Draw(image)
    for i in range(40):  # hard edges, as in any photo of things
        x, y = (i * 997) % width, (i * 613) % height
        draw.rectangle((x, y, x + 300, y + 200), fill=((i * 50) % 256, (i * 90) % 256, 128))
    grain = Image.effect_noise(SIZE, 30).convert("RGB")
    Image.blend(image, grain, 0.12).save(path, quality=92)
    return path


def plain(source: Path, size: tuple[int, int]) -> None:
    with Image.open(source) as im:
        im.load()
        im.resize(size, Image.Resampling.LANCZOS)


def variant(source: Path, preset: Preset, out: Path) -> None:
    made = make_variant(source, preset, out)
    made.path.unlink()


def timed_ms(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def peak_mib(kind: str, source: Path, preset: str) -> float:
    """One call in a fresh process: its RSS peak above the process's own peak before it."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.variants", "--child", kind, str(source), preset],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
    )
    return float(child.stdout.strip())


def child(kind: str, source: Path, name: str) -> None:
    preset = PRESETS[name]
    with Image.open(source) as im:
        size = preset.plan(*im.size).size
    with tempfile.TemporaryDirectory() as out:
        # The peak so far is set back to the current RSS (Linux 4.0+), so that start-up does
        # not count; ru_maxrss would not do: it keeps the parent's peak across exec.
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
        if kind == "variant":
            variant(source, preset, Path(out))
        else:
            plain(source, size)
        peak = _status_kib("VmHWM")
    print(f"{(peak - before) / 1024:.1f}")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def decode_path(source: Path, preset: Preset, out: Path) -> tuple[str, int]:
    made = make_variant(source, preset, out)
    copied = made.path.read_bytes() == source.read_bytes()
    made.path.unlink()
    if copied:
        return "copy", made.size
    plan = preset.plan(*SIZE)
    scale = min(SIZE[0] // plan.width, SIZE[1] // plan.height)
    denominator = next(s for s in (8, 4, 2, 1) if scale >= s)
    return ("full" if denominator == 1 else f"1/{denominator}"), made.size


def measure(source: Path, runs: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for name, preset in PRESETS.items():
            size = preset.plan(*SIZE).size
            decode, variant_bytes = decode_path(source, preset, out)
            variant_times: list[float] = []
            plain_times: list[float] = []
            for _ in range(runs):  # alternated, so that noise hits both alike
                variant_times.append(timed_ms(partial(variant, source, preset, out)))
                plain_times.append(timed_ms(partial(plain, source, size)))
            variant_ms = statistics.median(variant_times)
            plain_ms = statistics.median(plain_times)
            rows.append(
                Row(
                    preset=name,
                    size=f"{size[0]}x{size[1]}",
                    decode=decode,
                    variant_ms=round(variant_ms, 1),
                    plain_ms=round(plain_ms, 1),
                    ratio=round(variant_ms / plain_ms, 2),
                    variant_peak_mib=peak_mib("variant", source, name),
                    plain_peak_mib=peak_mib("plain", source, name),
                    variant_bytes=variant_bytes,
                )
            )
    return rows


def table(rows: list[Row], source: Path, runs: int) -> str:
    lines = [
        f"source: {SIZE[0]}x{SIZE[1]} JPEG q92, {source.stat().st_size / 1e6:.1f} MB; "
        f"median of {runs} runs",
        "",
        "| preset | size | decode | variant ms | plain ms | ratio | variant peak MiB "
        "| plain peak MiB | variant bytes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.preset} | {r.size} | {r.decode} | {r.variant_ms} | {r.plain_ms} | {r.ratio} "
            f"| {r.variant_peak_mib} | {r.plain_peak_mib} | {r.variant_bytes} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SOURCE", "PRESET"))
    args = parser.parse_args()
    if args.child:
        kind, source, preset = args.child
        child(kind, Path(source), preset)
        return
    with tempfile.TemporaryDirectory() as folder:
        source = photo_jpeg(Path(folder) / "photo.jpg")
        rows = measure(source, max(5, args.runs))
        report = table(rows, source, max(5, args.runs))
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "variants.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    (args.out / "variants.md").write_text(report + "\n")
    print(f"\nwrote {args.out}/variants.json, variants.md")


if __name__ == "__main__":
    main()
