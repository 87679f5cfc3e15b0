"""`reidkit track VIDEO... -o OUTDIR` and `reidkit eval mot`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from reidkit.cli.common import DeviceOption, JsonOption, err, out, print_json


def _preview_keys(api_key: Optional[str], keys: Optional[Path]):
    """Who may watch the --serve preview: any key of the ring (None: no keys, loopback only)."""
    import os

    from reidkit.service.auth import KeyRing

    ring = KeyRing.from_options(api_key or os.environ.get("REIDKIT_API_KEY"), keys)
    return None if ring is None else (lambda key: ring.identify(key) is not None)


def track(
    sources: Optional[list[str]] = typer.Argument(
        None,
        help="Videos (any OpenCV-readable file, raw .264 too), image folders, rtsp:// or http(s):// streams, or a "
        "webcam index; several = several cameras tracked at once, sharing one identity fusion. May be omitted "
        "when --cameras gives each camera's source.",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for <camera>.mp4, <camera>.txt, events.jsonl."),
    cameras_file: Optional[Path] = typer.Option(
        None, "--cameras", help="Cameras TOML: names, sources, homographies, transit links (docs/tracking.md)."
    ),
    camera: Optional[list[str]] = typer.Option(None, "--camera", help="Camera names, one per source."),
    realtime: bool = typer.Option(False, "--realtime", help="Pace files at their frame rate, like live cameras."),
    max_retries: Optional[int] = typer.Option(
        None, "--max-retries", min=0, help="Live streams: give up after N failed reconnections (default: never)."
    ),
    webhook: Optional[str] = typer.Option(None, "--webhook", help="POST every event as JSON to this URL."),
    mqtt: Optional[str] = typer.Option(
        None, "--mqtt", help="Publish every event to mqtt://host[:port][/prefix] as <prefix>/<camera>/<event>."
    ),
    serve: Optional[str] = typer.Option(
        None, "--serve", help="Live preview page on PORT or HOST:PORT (MJPEG per camera, identities visible)."
    ),
    api_key: Optional[str] = typer.Option(
        None, "--api-key", help="With --serve: the preview needs this key (or $REIDKIT_API_KEY)."
    ),
    keys: Optional[Path] = typer.Option(
        None, "--keys", help="With --serve: the preview needs a key of this keys file (`reidkit keys add`)."
    ),
    detector: Optional[str] = typer.Option(None, "--detector", help="Person detector (default: the catalog's)."),
    detector_precision: Optional[str] = typer.Option(
        None, "--detector-precision", help="Detector precision, e.g. FP16-INT8 (default: the model's first)."
    ),
    reid: Optional[str] = typer.Option(None, "--reid", help="Re-id model (default: the catalog's)."),
    no_reid: bool = typer.Option(False, "--no-reid", help="Motion only: no appearance, no re-identification."),
    reid_threshold: float = typer.Option(
        0.97, "--reid-threshold", min=0.0, max=1.0, help="P(same) to give a track an old id."
    ),
    stride: int = typer.Option(1, "--stride", min=1, help="Process every N-th frame."),
    detect_every: int = typer.Option(
        1, "--detect-every", min=1, help="Run the detector on every N-th processed frame; motion only in between."
    ),
    min_height: float = typer.Option(
        0.0, "--min-height", min=0.0, help="Ignore detections shorter than this (pixels)."
    ),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after N frames per source."),
    no_video: bool = typer.Option(False, "--no-video", help="Skip the annotated MP4."),
    no_attributes: bool = typer.Option(
        False, "--no-attributes", help="Skip person attributes in events and gallery sightings."
    ),
    gallery: Optional[str] = typer.Option(
        None, "--gallery", help="Also store tracked people in this gallery (file or postgresql://URL)."
    ),
    gallery_stride: int = typer.Option(10, "--gallery-stride", min=1, help="Every N-th frame goes to the gallery."),
    reassociate: Optional[bool] = typer.Option(
        None,
        "--reassociate/--online",
        help="After the run, cluster every tracklet again with the whole run's evidence and rewrite MOT files, "
        "events and gallery with the final ids (default for recorded files; --online keeps the live decisions).",
        show_default=False,
    ),
    live_corrections: Optional[float] = typer.Option(
        None,
        "--live-corrections",
        min=1.0,
        help="Every N s of stream time, re-associate recent tracks and announce merges (identity_merged, live).",
    ),
    blur: str = typer.Option(
        "none", "--blur", help="Mask people in the video, preview and gallery thumbnails: faces (heads), people, none."
    ),
    unblur_enrolled: bool = typer.Option(
        False, "--unblur-enrolled", help="With --blur and --gallery: leave people the gallery has enrolled unmasked."
    ),
    ray: Optional[str] = typer.Option(
        None,
        "--ray",
        help="Track files on Ray, cut into segments: no ADDRESS (or 'local') starts a local Ray; 'auto' or "
        "ray://host:port joins a cluster. With --cameras and live sources: one restartable actor per camera.",
    ),
    segment_s: float = typer.Option(600.0, "--segment-s", min=1.0, help="With --ray: seconds of video per task."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="With --ray: pool size (default: CPUs)."),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Detect, track and re-identify people on every camera at once; writes annotated video, MOTChallenge tracks
    and an event log, and feeds the sinks asked for (gallery, webhook, MQTT, live preview)."""
    from reidkit.files import make_dir
    from reidkit.masking import checked_kind
    from reidkit.pipeline import PipelineConfig, RunOptions, run_videos
    from reidkit.track.plan import plan_cameras

    checked_kind(blur)
    sources_list, names, layout = plan_cameras(list(sources or []), list(camera or []), cameras_file)
    make_dir(output)
    config = PipelineConfig(
        detector=detector,
        detector_precision=detector_precision,
        reid=reid,
        use_reid=not no_reid,
        device=device,
        reid_threshold=reid_threshold,
        min_box_height=min_height,
        stride=stride,
        detect_every=detect_every,
    )
    if ray is not None:
        unsupported = [
            flag
            for flag, value in (
                ("--gallery", gallery),
                ("--webhook", webhook),
                ("--mqtt", mqtt),
                ("--serve", serve),
                ("--realtime", realtime or None),
                ("--blur", None if blur == "none" else blur),
                ("--live-corrections", live_corrections),
            )
            if value is not None
        ]
        if unsupported:
            from reidkit.errors import ConfigError

            raise ConfigError(
                f"{unsupported[0]} does not work with --ray yet (archives: `reidkit gallery index --ray` fills a "
                "gallery; the live sinks need the single-machine runtime)"
            )
        _track_on_ray(
            sources_list, output, config, names, layout, ray, segment_s, workers, max_frames, as_json, reassociate
        )
        return
    store = None
    if gallery is not None:
        from reidkit.gallery import open_gallery

        store = open_gallery(gallery)
    options = RunOptions(
        write_video=not no_video,
        max_frames=max_frames,
        gallery=store,
        gallery_stride=gallery_stride,
        attributes=not no_attributes,
        max_retries=max_retries,
        realtime=realtime,
        webhook=webhook,
        mqtt=mqtt,
        serve=serve,
        serve_authorize=_preview_keys(api_key, keys),
        reassociate=reassociate,
        blur=blur,
        unblur_enrolled=unblur_enrolled,
        live_corrections=live_corrections,
    )
    if serve is not None and not as_json:
        from reidkit.preview import parse_serve

        host, port = parse_serve(serve)
        err.print(f"live preview: http://{host}:{port}/")
    try:
        summary = run_videos(sources_list, output, config, names, layout, options)
    finally:
        if store is not None:
            store.close()
    if as_json:
        print_json(summary)
        return
    for s in summary["sources"]:
        line = f"{s['camera']}: {s['frames']} frames ({s['fps']} frames/s)"
        if s.get("dropped"):
            line += f", {s['dropped']} dropped"
        if "latency_ms_p95" in s:
            line += f", latency p95 {s['latency_ms_p95']} ms"
        out.print(f"{line} -> {s['results']}")
    out.print(
        f"{summary['identities']} identities; {summary['frames_per_second']} frames/s together in "
        f"{summary['seconds']} s; events: {output / 'events.jsonl'}"
    )
    for notice in summary.get("warnings", []):
        err.print(f"warning: {escape(notice)}")


def _track_on_ray(
    sources, output, config, names, layout, address, segment_s, workers, max_frames, as_json, reassociate=None
):
    from reidkit.sources import is_live

    if any(is_live(str(s)) for s in sources):
        from reidkit.scale.ray_live import ray_live

        summary = ray_live(sources, output, config, names, layout, address, max_frames=max_frames)
    else:
        from reidkit.scale.ray_jobs import ray_track

        summary = ray_track(
            sources,
            output,
            config,
            names,
            layout,
            address,
            segment_s,
            workers=workers,
            reassociate=reassociate is not False,
        )
    if as_json:
        print_json(summary)
        return
    for s in summary["sources"]:
        out.print(f"{s['camera']}: {s['rows']} boxes -> {s['results']}")
    line = f"{summary['identities']} identities"
    if "segments" in summary:
        line += f"; {summary['segments']} segments on {len(summary['workers'])} workers"
        if summary["retried"]:
            line += f", {summary['retried']} retried"
    out.print(f"{line}; events: {output / 'events.jsonl'}")
    for notice in summary.get("warnings", []):
        err.print(f"warning: {escape(notice)}")


def eval_mot(
    pred: Path = typer.Option(..., "--pred", help="Tracker results, MOTChallenge txt."),
    gt: Path = typer.Option(..., "--gt", help="Ground truth, MOTChallenge txt (column 7 = 0: ignore)."),
    gt_scale: float = typer.Option(1.0, "--gt-scale", help="Multiply GT boxes (e.g. 0.625 for PETS09 at 480×360)."),
    iou: float = typer.Option(0.5, "--iou", help="Match threshold."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write report.json here."),
    as_json: bool = JsonOption,
) -> None:
    """MOTA, IDF1, HOTA, ID switches of tracker results against ground truth (TrackEval's metrics)."""
    import numpy as np

    from reidkit.data.mot import read_mot_gt
    from reidkit.errors import NotFoundError
    from reidkit.metrics.mot import mot_metrics
    from reidkit.report import write_json

    for name, path in (("--pred", pred), ("--gt", gt)):
        if not path.is_file():
            raise NotFoundError(f"{name} file not found: {path}")
    if output is not None:
        from reidkit.files import make_dir

        make_dir(output)
    gt_rows = read_mot_gt(gt, include_ignored=True)
    gt_rows[:, 2:6] *= gt_scale
    pred_rows = read_mot_gt(pred, include_ignored=True) if pred.stat().st_size else np.zeros((0, 7))
    report = mot_metrics(gt_rows, pred_rows, iou)
    if output is not None:
        write_json(output / "report.json", report)
    if as_json:
        print_json(report)
        return
    out.print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items()))


def eval_mtmc(
    pred: Path = typer.Option(..., "--pred", help="A `reidkit track` output folder: <camera>.txt per camera."),
    gt: Path = typer.Option(..., "--gt", help="Folder of <camera>.txt ground truth with global ids."),
    iou: float = typer.Option(0.5, "--iou", min=0.05, max=1.0, help="Match threshold."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write report.json here."),
    as_json: bool = JsonOption,
) -> None:
    """Cross-camera IDF1/IDP/IDR (one identity matching over all cameras) and per-camera MOT metrics."""
    import numpy as np

    from reidkit.data.mot import read_mot_gt
    from reidkit.errors import NotFoundError
    from reidkit.metrics.mtmc import mtmc_metrics
    from reidkit.report import write_json

    for name, folder in (("--pred", pred), ("--gt", gt)):
        if not folder.is_dir():
            raise NotFoundError(f"{name} folder not found: {folder}")
    cameras = sorted(p.stem for p in gt.glob("*.txt"))
    if not cameras:
        raise NotFoundError(f"no <camera>.txt ground truth in {gt}")
    gt_rows = {c: read_mot_gt(gt / f"{c}.txt", include_ignored=True) for c in cameras}
    pred_rows = {}
    for c in cameras:
        path = pred / f"{c}.txt"
        pred_rows[c] = (
            read_mot_gt(path, include_ignored=True) if path.is_file() and path.stat().st_size else np.zeros((0, 7))
        )
    report = mtmc_metrics(gt_rows, pred_rows, iou)
    if output is not None:
        write_json(output / "report.json", report)
    if as_json:
        print_json(report)
        return
    c = report["cross_camera"]
    out.print(
        f"cross-camera IDF1 {c['IDF1']:.3f} IDP {c['IDP']:.3f} IDR {c['IDR']:.3f}; identities: "
        f"{c['pred_identities']} predicted, {c['gt_identities']} true"
    )
    for name, m in report["cameras"].items():
        out.print(f"  {name}: IDF1 {m['IDF1']:.3f} MOTA {m['MOTA']:.3f} HOTA {m['HOTA']:.3f} IDSW {m['IDSW']}")
