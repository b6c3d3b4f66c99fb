// mandelbrot: escape-time Mandelbrot set near one of several boundary points, smooth count.
vec3 image(vec2 p) {
    vec2 centers[6] = vec2[6](vec2(-0.7453, 0.1127), vec2(-0.1011, 0.9563), vec2(-1.2500, 0.0200),
                              vec2(0.2820, 0.0100), vec2(-0.7500, 0.0000), vec2(-1.7690, 0.0040));
    vec2 center = centers[int(u_p0.x * 5.999)];
    float zoom = exp(-mix(0.0, 5.0, u_p0.y));
    vec2 c = center + rot(u_p0.z * 6.28 + u_time * 0.05) * p * zoom * 1.3;
    vec2 z = vec2(0.0);
    float n = 0.0;
    for (int i = 0; i < 96; i++) {
        z = vec2(z.x * z.x - z.y * z.y, 2.0 * z.x * z.y) + c;
        if (dot(z, z) > 256.0) break;
        n += 1.0;
    }
    if (n >= 96.0) return pal(0.0) * 0.2;
    float smooth_n = n - log2(log2(dot(z, z))) + 4.0;
    return pal(smooth_n * mix(0.01, 0.08, u_p0.w));
}
