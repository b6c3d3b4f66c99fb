// marble: sine veins displaced by turbulence (sum of |noise| octaves).
float turbulence(vec2 q) {
    float t = 0.0, amp = 1.0;
    for (int i = 0; i < 5; i++) {
        t += abs(gnoise(q)) * amp;
        q = q * 2.0 + 1.3;
        amp *= 0.5;
    }
    return t;
}
vec3 image(vec2 p) {
    vec2 q = rot(u_p0.w * 3.14) * p * mix(1.0, 4.0, u_p0.x);
    float v = sin(q.x * mix(2.0, 10.0, u_p0.y) + mix(2.0, 10.0, u_p0.z) * turbulence(q + u_time * 0.03));
    return pal(pow(0.5 + 0.5 * v, mix(0.3, 3.0, u_p1.x)));
}
