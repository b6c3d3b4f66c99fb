// checker: a rotated, optionally perspective-projected checkerboard with cell shading.
vec3 image(vec2 p) {
    float scale = mix(3.0, 16.0, u_p0.x);
    vec2 q = rot(u_p0.y * 3.14159 + u_time * 0.05) * p;
    if (u_p0.z > 0.5) {
        q = vec2(q.x, 1.0) / (q.y + 1.6) * 2.0;
    }
    q *= scale;
    ivec2 c = ivec2(floor(q));
    float parity = float((c.x + c.y) & 1);
    float shade = mix(1.0, hash21(c), u_p0.w);
    return pal(parity * 0.5 + 0.25) * shade;
}
