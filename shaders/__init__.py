"""GLSL shader library, random-program grammar and offscreen moderngl renderer."""
