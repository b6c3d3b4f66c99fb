// moire: two (or three) slightly rotated and scaled line gratings multiplied together.
float grating(vec2 p, float angle, float freq) {
    return 0.5 + 0.5 * cos(dot(p, vec2(cos(angle), sin(angle))) * freq);
}
vec3 image(vec2 p) {
    float freq = mix(40.0, 160.0, u_p0.x);
    float delta = mix(0.01, 0.15, u_p0.y) + 0.01 * sin(u_time * 0.3);
    float base = u_p0.w * 3.14159;
    float g = grating(p, base, freq) * grating(p * (1.0 + u_p0.z * 0.1), base + delta, freq);
    if (u_p1.x > 0.5) {
        g *= grating(p, base - delta * 1.7, freq * 1.03);
    }
    return pal(g);
}
