"""Offscreen rendering of GLSL fragment programs with moderngl (headless EGL).

A :class:`ShaderRenderer` owns one standalone OpenGL 3.3+ context, draws a single
fullscreen triangle with a fragment program and reads the framebuffer back into numpy.
Without a GPU, Mesa's llvmpipe renders on the CPU (EGL, no X server); where EGL device 0 is a
GPU, that GPU is used. Compiled programs are cached by the SHA-256 of their source, so many
instances of one program (different uniforms) compile once.

Every fragment program is GLSL ``#version 330`` and may use these uniforms (unused ones are
simply not set):

* ``vec2 u_resolution`` - the output size in pixels,
* ``float u_time`` - a time-like instance parameter (seconds, any real value),
* ``uint u_seed`` - an integer instance seed (noise lattices hash it),
* any others the caller passes by name (floats, vecN as tuples, ints, uints).

Rows are returned top row first (OpenGL's origin is bottom-left; we flip on read).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

#: The vertex stage of every program: one triangle that covers the viewport, no buffers.
FULLSCREEN_VERTEX = """#version 330
void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
"""


class ShaderError(RuntimeError):
    """A fragment program could not be rendered (the base of this package's render errors).

    The shader pattern kinds (``generators/kinds/shaders_*.py``) translate it into the
    renderer-neutral ``generators.registry.RenderError``; this package imports nothing above it.
    """


class ShaderCompileError(ShaderError):
    """A fragment program failed to compile or link; the message carries the GLSL info log."""


class ShaderTimeoutError(ShaderError):
    """A render exceeded its time limit and its render process was killed."""


def source_hash(source: str) -> str:
    """Hex SHA-256 of a program's source text (the key of compiled-program caches)."""
    return hashlib.sha256(source.encode()).hexdigest()


def _first_lines(text: str, limit: int = 20) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    extra = f"\n... ({len(lines) - limit} more lines)" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + extra


class ShaderRenderer:
    """One GL context, a fullscreen triangle and an LRU cache of compiled programs.

    Use one renderer per process (the render service gives each worker its own process):
    moderngl sends GL calls to the thread's current context, so a second standalone context
    created in the same process silently takes over the first one's calls.

    Args:
        max_programs: compiled programs kept (llvmpipe holds ~2-3 MB of machine code per
            program, measured with ``ru_maxrss``; recompiling an evicted one is cheap when
            Mesa's shader disk cache is on).
        backend: moderngl standalone backend (``"egl"`` renders headless).
        device_index: EGL device (0 = the first: a GPU where the driver exposes one, else
            llvmpipe).
    """

    def __init__(self, max_programs: int = 32, backend: str = "egl", device_index: int = 0):
        import moderngl

        self._moderngl = moderngl
        kwargs: dict[str, Any] = {"backend": backend} if backend else {}
        if backend == "egl" and device_index:
            kwargs["device_index"] = device_index
        self.ctx = moderngl.create_standalone_context(require=330, **kwargs)
        self.max_programs = max_programs
        self._programs: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._framebuffers: dict[tuple[int, int], Any] = {}

    @property
    def info(self) -> dict[str, str]:
        """Renderer, vendor and GL version strings of the context."""
        info = self.ctx.info
        return {"renderer": info["GL_RENDERER"], "vendor": info["GL_VENDOR"],
                "version": info["GL_VERSION"]}

    def compile(self, source: str) -> tuple[Any, Any]:
        """The (program, vertex array) for ``source``, compiled once and cached.

        Raises:
            ShaderCompileError: with the compiler's info log and the program's hash.
        """
        key = source_hash(source)
        cached = self._programs.get(key)
        if cached is not None:
            self._programs.move_to_end(key)
            return cached
        try:
            program = self.ctx.program(vertex_shader=FULLSCREEN_VERTEX, fragment_shader=source)
        except self._moderngl.Error as error:
            raise ShaderCompileError(
                f"GLSL program {key[:12]} failed to compile:\n{_first_lines(str(error))}"
            ) from None
        vertex_array = self.ctx.vertex_array(program, [])
        self._programs[key] = (program, vertex_array)
        while len(self._programs) > self.max_programs:
            _, (old_program, old_array) = self._programs.popitem(last=False)
            old_array.release()
            old_program.release()
        return program, vertex_array

    def _framebuffer(self, size: int, components: int) -> Any:
        key = (size, components)
        if key not in self._framebuffers:
            texture = self.ctx.texture((size, size), components, dtype="f1")
            self._framebuffers[key] = self.ctx.framebuffer(color_attachments=[texture])
        return self._framebuffers[key]

    def render(self, source: str, size: int, uniforms: Mapping[str, Any] | None = None,
               channels: int = 3) -> np.ndarray:
        """Render ``source`` at ``size`` x ``size`` and read it back.

        Args:
            source: a complete fragment program (``#version 330``) writing one ``out vec4``.
            size: output width = height in pixels (1 .. 8192).
            uniforms: values by uniform name; names the program does not use are ignored.
            channels: 1 (R8 target, returns ``(size, size)``) or 3 (RGBA8 target, returns
                ``(size, size, 3)``).

        Returns:
            ``uint8`` array, top row first.
        """
        if channels not in (1, 3):
            raise ValueError(f"channels={channels} must be 1 or 3")
        if not 1 <= size <= 8192:
            raise ValueError(f"size={size} must be in 1 .. 8192")
        program, vertex_array = self.compile(source)
        values = {"u_resolution": (float(size), float(size))}
        values.update(uniforms or {})
        for name, value in values.items():
            if name in program:
                program[name].value = value
        components = 1 if channels == 1 else 4
        framebuffer = self._framebuffer(size, components)
        framebuffer.use()
        vertex_array.render(self._moderngl.TRIANGLES, vertices=3)
        data = framebuffer.read(components=components, alignment=1)
        image = np.frombuffer(data, dtype=np.uint8).reshape(size, size, components)[::-1]
        if channels == 1:
            return np.ascontiguousarray(image[:, :, 0])
        return np.ascontiguousarray(image[:, :, :3])

    def release(self) -> None:
        """Free every GL object and the context."""
        for program, vertex_array in self._programs.values():
            vertex_array.release()
            program.release()
        self._programs.clear()
        for framebuffer in self._framebuffers.values():
            for attachment in framebuffer.color_attachments:
                attachment.release()
            framebuffer.release()
        self._framebuffers.clear()
        self.ctx.release()
