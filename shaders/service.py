"""A render service: a child process that owns the GL context, watched by a time limit.

A GL draw call cannot be interrupted: llvmpipe blocks in ``fbo.read()`` until an expensive
loop ends (seconds to hours) and ignores SIGINT. So the renderer lives in a child process
(``python -m shaders.service``) that the parent talks to over pipes; when a request exceeds
``timeout_s`` the parent kills the child by its pid, raises :class:`ShaderTimeoutError`
and starts a fresh child on the next request. A subprocess (not ``multiprocessing``) is used
because the shard renderer's workers may be daemonic pool processes, which may not fork
``multiprocessing`` children.

Messages are length-prefixed pickles: ``(op, args)`` in, ``(status, payload)`` out.
The child exits when its stdin closes, so it never outlives its parent.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

from shaders.renderer import ShaderCompileError, ShaderTimeoutError, source_hash

_LENGTH = struct.Struct("<Q")

#: Seconds a fresh child may take to import moderngl and create its context.
STARTUP_TIMEOUT_S = 120.0


def default_environment() -> dict[str, str]:
    """The child's environment: the caller's, plus defaults that make llvmpipe fast here.

    * ``LP_NUM_THREADS=1``: processes give the parallelism; threads would oversubscribe.
    * ``GALLIVM_PERF=nopt``: halves llvmpipe's compile time (40-120 ms -> 20-60 ms per
      program, measured) with the same pixels and <10 % slower steady rendering.
    * ``MESA_SHADER_CACHE_DIR``: a scratch folder for Mesa's on-disk shader cache, so a
      program compiled once (e.g. by the class sampler) recompiles in ~5 ms anywhere else.
    Values the caller already set win.
    """
    env = dict(os.environ)
    env.setdefault("LP_NUM_THREADS", "1")
    env.setdefault("GALLIVM_PERF", "nopt")
    env.setdefault("MESA_SHADER_CACHE_DIR",
                   str(Path(tempfile.gettempdir()) / f"synthgen-mesa-cache-{os.getuid()}"))
    # The child must import this package even when it is not installed.
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _write_message(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exact(fd: int, count: int, deadline: float | None) -> bytes | None:
    """Read ``count`` bytes from ``fd``; ``None`` on timeout; ``EOFError`` if the pipe closed."""
    chunks, remaining = [], count
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return None
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class RenderService:
    """Renders fragment programs in a watched child process (see the module docstring).

    Args:
        timeout_s: the longest one request (compile + draw + read-back) may take.
        max_programs: compiled programs the child keeps (LRU).
        environment: variables set in the child on top of :func:`default_environment`
            (e.g. ``{"LP_NUM_THREADS": "2"}``).
    """

    def __init__(self, timeout_s: float = 20.0, max_programs: int = 32,
                 environment: Mapping[str, str] | None = None):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s} must be > 0")
        self.timeout_s = timeout_s
        self.max_programs = max_programs
        self.environment = dict(environment or {})
        self._process: subprocess.Popen | None = None
        self.restarts = 0
        self._info: dict[str, str] | None = None

    # --- process management --------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "shaders.service", str(self.max_programs)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**default_environment(), **self.environment})
        self._process = process
        status, payload = self._exchange(("info", ()), STARTUP_TIMEOUT_S, "starting")
        if status != "ok":
            self._kill()
            raise RuntimeError(f"the shader render process failed to start: {payload}")
        self._info = payload
        return process

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        """Stop the child (it also stops by itself when this process exits)."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self) -> "RenderService":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._kill()
        except Exception:
            pass

    def _exchange(self, request: tuple, timeout_s: float, what: str) -> tuple[str, Any]:
        process = self._process
        assert process is not None
        try:
            _write_message(process.stdin, request)
            deadline = time.monotonic() + timeout_s
            fd = process.stdout.fileno()
            header = _read_exact(fd, _LENGTH.size, deadline)
            body = None if header is None else _read_exact(fd, _LENGTH.unpack(header)[0], deadline)
        except (EOFError, BrokenPipeError):
            code = process.poll()
            self._kill()
            raise RuntimeError(f"the shader render process exited (code {code}) while {what}") from None
        if body is None:
            self._kill()
            self.restarts += 1
            raise ShaderTimeoutError(
                f"{what} took longer than the time limit of {timeout_s:g} s; the render "
                f"process was killed and will be restarted")
        return pickle.loads(body)

    def _request(self, request: tuple, what: str) -> Any:
        if self._process is None or self._process.poll() is not None:
            self._kill()
            self._start()
        status, payload = self._exchange(request, self.timeout_s, what)
        if status == "compile_error":
            raise ShaderCompileError(payload)
        if status != "ok":
            raise RuntimeError(f"the shader render process failed while {what}: {payload}")
        return payload

    # --- requests ----------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, str]:
        """GL renderer, vendor and version of the child's context (starts it if needed)."""
        if self._info is None or self._process is None:
            self._info = self._request(("info", ()), "reading renderer info")
        return dict(self._info)

    def render(self, source: str, size: int, uniforms: Mapping[str, Any] | None = None,
               channels: int = 3) -> np.ndarray:
        """Like :meth:`shaders.renderer.ShaderRenderer.render`, in the watched child.

        Raises:
            ShaderCompileError: the program does not compile (message has the info log).
            ShaderTimeoutError: the request took longer than ``timeout_s``.
        """
        what = f"rendering program {source_hash(source)[:12]} at {size}x{size}"
        data, shape = self._request(("render", (source, size, dict(uniforms or {}), channels)),
                                    what)
        return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def serve(max_programs: int) -> None:
    """The child's loop: read requests from stdin, answer on the original stdout."""
    from shaders.renderer import ShaderRenderer

    # Keep the protocol pipe private: anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdin = sys.stdin.buffer
    renderer = None
    while True:
        header = stdin.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            return
        op, args = pickle.loads(stdin.read(_LENGTH.unpack(header)[0]))
        try:
            if renderer is None:
                renderer = ShaderRenderer(max_programs=max_programs)
            if op == "info":
                reply = ("ok", renderer.info)
            elif op == "render":
                image = renderer.render(*args)
                reply = ("ok", (image.tobytes(), image.shape))
            else:
                reply = ("error", f"unknown request {op!r}")
        except ShaderCompileError as error:
            reply = ("compile_error", str(error))
        except Exception as error:  # reported to the parent, which raises it there
            reply = ("error", f"{type(error).__name__}: {error}")
        _write_message(out, reply)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 32)
