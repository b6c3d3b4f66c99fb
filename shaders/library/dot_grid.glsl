// dot_grid: a jittered grid of discs with random radii, halftone-like.
vec3 image(vec2 p) {
    float scale = mix(4.0, 20.0, u_p0.x);
    vec2 q = rot(u_p0.z * 1.57) * p * scale;
    if (u_p0.w > 0.5) q.x += floor(q.y) * 0.5;
    ivec2 c = ivec2(floor(q));
    vec2 f = fract(q) - 0.5 - (hash22(c) - 0.5) * 0.3 * u_p0.y;
    float radius = mix(0.1, 0.45, hash21(c + ivec2(13, 5))) * (0.8 + 0.2 * sin(u_time + float(c.x)));
    float disc = smoothstep(radius, radius - 0.04, length(f));
    return mix(pal(0.1), pal(0.4 + hash21(c) * 0.6), disc);
}
