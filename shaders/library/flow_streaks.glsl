// flow_streaks: streaks of a noise field smeared along a noise-defined flow (short line
// integral convolution, 8 steps).
vec3 image(vec2 p) {
    float scale = mix(1.0, 4.0, u_p0.x);
    vec2 q = p;
    float acc = 0.0;
    for (int i = 0; i < 8; i++) {
        float a = fbm(q * scale + 3.0, 2, 2.0, 0.5) * 6.2831853 * mix(1.0, 3.0, u_p0.y);
        q += vec2(cos(a), sin(a)) * 0.015;
        acc += hash21(ivec2(floor(q * mix(80.0, 200.0, u_p0.z) + u_time)));
    }
    acc /= 8.0;
    return pal(acc * mix(0.5, 1.5, u_p0.w) + fbm(p * scale, 2, 2.0, 0.5) * 0.5);
}
