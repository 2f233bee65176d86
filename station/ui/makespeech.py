"""Make the touchscreen's speech clips from the message catalogues with espeak-ng (offline).

    python -m station.ui.makespeech [--out DIR] [--force] [--check]

Only clips whose text or voice changed are made again (an `index.json` per language keeps a
fingerprint of each); clips no longer needed are removed. `--check` makes nothing and exits 1
when a clip is missing or stale. `scripts/make-speech` runs this; `scripts/setup` calls it.
"""

from __future__ import annotations

import argparse
import array
import json
import shutil
import subprocess
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .catalogue import LANGUAGES
from .speech import DEFAULT_DIR, VOICES, WORDS_PER_MINUTE, clip_path, clip_texts, fingerprint, missing_or_stale

ESPEAK = "espeak-ng"


def render(text: str, language: str, target: Path) -> None:
    """One clip as a WAV file; written beside the target first so a reader never sees half a file."""
    partial = target.with_suffix(".part")
    cmd = [ESPEAK, "-v", VOICES[language], "-s", str(WORDS_PER_MINUTE), "-w", str(partial), "--", text]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    trim_silence(partial)
    partial.replace(target)


SILENCE = 200  # |sample| below this (16 bit) counts as silence
KEEP_S = 0.06  # silence kept at each end, so joined clips do not clip the first sound


def trim_silence(path: Path) -> None:
    """espeak-ng pads its clips with silence; clips joined into one sentence would stall on it."""
    with wave.open(str(path), "rb") as clip:
        params = clip.getparams()
        samples = array.array("h", clip.readframes(clip.getnframes()))
    if params.sampwidth != 2 or params.nchannels != 1:
        return
    loud = [index for index, sample in enumerate(samples) if abs(sample) > SILENCE]
    if not loud:
        return
    keep = int(KEEP_S * params.framerate)
    start, end = max(0, loud[0] - keep), min(len(samples), loud[-1] + keep)
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(samples[start:end].tobytes())


def make_language(base: Path, language: str, *, force: bool = False, workers: int = 2) -> int:
    """Bring one language's clips up to date; returns how many were made."""
    folder = base / language
    folder.mkdir(parents=True, exist_ok=True)
    index_file = folder / "index.json"
    index: dict[str, str] = json.loads(index_file.read_text()) if index_file.exists() and not force else {}
    wanted = clip_texts(language)
    todo = {
        clip: text
        for clip, text in wanted.items()
        if index.get(clip) != fingerprint(language, text) or not clip_path(base, language, clip).exists()
    }
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="espeak") as pool:
        list(pool.map(lambda item: render(item[1], language, clip_path(base, language, item[0])), todo.items()))
    for stale in folder.glob("*.wav"):
        if stale.stem not in wanted:
            stale.unlink()
    index = {clip: fingerprint(language, text) for clip, text in sorted(wanted.items())}
    index_file.write_text(json.dumps(index, indent=0, sort_keys=True) + "\n")
    return len(todo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make-speech", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"clip folder (default {DEFAULT_DIR})")
    parser.add_argument("--force", action="store_true", help="make every clip again")
    parser.add_argument("--check", action="store_true", help="only report missing or stale clips")
    args = parser.parse_args(argv)
    if args.check:
        problems = missing_or_stale(args.out)
        for problem in problems[:20]:
            print(f"missing or stale: {problem}")
        if problems:
            print(f"{len(problems)} clips to make: run scripts/make-speech", file=sys.stderr)
        return 1 if problems else 0
    if shutil.which(ESPEAK) is None:
        print("make-speech: espeak-ng is not installed (scripts/setup installs it)", file=sys.stderr)
        return 2
    started = time.monotonic()
    for language in LANGUAGES:
        made = make_language(args.out, language, force=args.force)
        print(f"make-speech: {language}: {made} clips made, {len(clip_texts(language))} in {args.out / language}")
    print(f"make-speech: done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
