"""GLSL programs shared by the shader tests."""

from shaders.helpers import HEADER

# ~3.6e9 loop iterations per pixel: minutes to hours on any device.
ENDLESS = HEADER + """
void main() {
    float a = 0.0;
    for (int i = 0; i < 60000; i++) {
        for (int j = 0; j < 60000; j++) { a += sin(a + float(j) * u_time); }
    }
    frag_color = vec4(a);
}
"""
