"""Media made on this machine: product pictures (SVG) and a live HLS test stream (ffmpeg)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

PALETTES = [("#ff3b6b", "#3b1020"), ("#ffb020", "#3b2a08"), ("#2ecc71", "#0c3320"),
            ("#4aa3ff", "#0b2540"), ("#b36bff", "#2a1040"), ("#ff7a45", "#40190b")]


def product_svg(title: str, index: int) -> str:
    fg, bg = PALETTES[index % len(PALETTES)]
    initials = "".join(w[0] for w in title.split()[:2]).upper()
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300">'
            f'<rect width="400" height="300" fill="{bg}"/>'
            f'<circle cx="200" cy="130" r="80" fill="{fg}" opacity=".9"/>'
            f'<text x="200" y="155" font-family="sans-serif" font-size="72" font-weight="700" '
            f'text-anchor="middle" fill="#fff">{escape(initials)}</text>'
            f'<text x="200" y="270" font-family="sans-serif" font-size="24" text-anchor="middle" '
            f'fill="#fff">{escape(title)}</text></svg>')


def write_product_image(media_dir: Path, slug: str, title: str, index: int) -> str:
    folder = media_dir / "products"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.svg").write_text(product_svg(title, index))
    return f"/media/products/{slug}.svg"


def hls_available() -> bool:
    return shutil.which("ffmpeg") is not None


def start_test_stream(media_dir: Path, name: str) -> tuple[subprocess.Popen, str] | None:
    """A live HLS stream of a test pattern with a clock; returns the process and playlist URL."""
    if not hls_available():
        return None
    out = media_dir / "hls" / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    clock = "drawtext=text='%{localtime}':fontsize=28:fontcolor=white:box=1:boxcolor=black@0.5:x=16:y=16"
    cmd = ["ffmpeg", "-loglevel", "error", "-re",
           "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=15",
           "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100",
           "-vf", clock, "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
           "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
           "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
           "-hls_flags", "delete_segments+omit_endlist", str(out / "index.m3u8")]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    return proc, f"/media/hls/{name}/index.m3u8"
