// sdf_shapes: repeated 2D signed-distance shapes (star, box, ring) drawn as iso-lines.
float star(vec2 q, float r, float n) {
    float a = atan(q.y, q.x);
    float k = 0.5 + 0.5 * cos(a * n);
    return length(q) - r * (0.6 + 0.4 * k);
}
vec3 image(vec2 p) {
    float scale = mix(1.0, 5.0, u_p0.x);
    vec2 q = p * scale;
    ivec2 c = ivec2(floor(q + 0.5));
    vec2 f = rot(u_time * 0.3 + hash21(c) * 6.28) * (fract(q + 0.5) - 0.5);
    float shape = floor(u_p0.y * 2.999);
    float d;
    if (shape < 1.0) d = star(f, 0.4, float(3 + int(u_p0.z * 5.0)));
    else if (shape < 2.0) { vec2 b = abs(f) - 0.25; d = length(max(b, 0.0)) + min(max(b.x, b.y), 0.0); }
    else d = abs(length(f) - 0.3) - 0.05;
    float lines = 0.5 + 0.5 * cos(d * mix(30.0, 120.0, u_p0.w));
    float inside = step(d, 0.0);
    return pal(inside * 0.5 + lines * 0.4);
}
