// inversion_grid: a square grid seen through circle inversion (Mobius-like warping).
vec3 image(vec2 p) {
    vec2 c = (u_p1.xy - 0.5) * 0.6;
    vec2 d = p - c;
    vec2 q = d / max(dot(d, d), 1e-4) * mix(0.2, 1.0, u_p0.x);
    q = rot(u_time * 0.1) * q + u_p0.y * 3.0;
    vec2 g = abs(fract(q * mix(1.0, 4.0, u_p0.z)) - 0.5);
    float line = smoothstep(0.06, 0.0, min(g.x, g.y) * (1.0 + length(p)));
    ivec2 cell = ivec2(floor(q * mix(1.0, 4.0, u_p0.z)));
    return pal(hash21(cell) * u_p0.w + line * 0.5);
}
