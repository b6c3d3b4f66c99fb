// newton: basins of attraction of Newton's method for z^n - 1, shaded by iteration count.
vec2 cmul(vec2 a, vec2 b) { return vec2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
vec2 cdiv(vec2 a, vec2 b) { return vec2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y) / dot(b, b); }
vec3 image(vec2 p) {
    int degree = 3 + int(u_p0.x * 4.0);
    vec2 z = rot(u_time * 0.05) * p * mix(1.0, 3.0, u_p0.y);
    float steps = 0.0;
    for (int i = 0; i < 32; i++) {
        vec2 zn1 = vec2(1.0, 0.0);
        for (int k = 0; k < 7; k++) { if (k >= degree - 1) break; zn1 = cmul(zn1, z); }
        vec2 zn = cmul(zn1, z);
        vec2 step = cdiv(zn - vec2(1.0, 0.0), float(degree) * zn1 + vec2(1e-9, 0.0));
        z -= step;
        if (dot(step, step) < 1e-6) break;
        steps += 1.0;
    }
    float root = atan(z.y, z.x) / 6.2831853 + 0.5;
    return pal(root + u_p0.z * 0.3) * (1.0 - steps / 32.0 * mix(0.2, 1.0, u_p0.w));
}
