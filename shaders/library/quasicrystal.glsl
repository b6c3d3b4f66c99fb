// quasicrystal: sum of n plane waves with equally spaced directions (n-fold symmetry).
vec3 image(vec2 p) {
    int n = 5 + int(u_p0.x * 8.0);
    float k = mix(15.0, 60.0, u_p0.y);
    float sum = 0.0;
    for (int i = 0; i < 12; i++) {
        if (i >= n) break;
        float a = 3.14159265 * float(i) / float(n);
        sum += cos(dot(p, vec2(cos(a), sin(a))) * k + u_time);
    }
    float v = sum / float(n);
    return pal(mix(v * 0.5 + 0.5, tri(v * mix(1.0, 4.0, u_p0.z)), u_p0.w));
}
