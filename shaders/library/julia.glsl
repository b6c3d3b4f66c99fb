// julia: escape-time Julia set with the constant c moving on a circle in the c-plane.
vec3 image(vec2 p) {
    float a = u_p0.x * 6.2831853 + u_time * 0.05;
    vec2 c = vec2(cos(a), sin(a)) * mix(0.6, 0.8, u_p0.y);
    vec2 z = p * mix(1.2, 1.8, u_p0.z);
    float n = 0.0;
    for (int i = 0; i < 96; i++) {
        z = vec2(z.x * z.x - z.y * z.y, 2.0 * z.x * z.y) + c;
        if (dot(z, z) > 64.0) break;
        n += 1.0;
    }
    float smooth_n = n - log2(max(log2(dot(z, z)), 1e-3));
    return pal(smooth_n * mix(0.02, 0.1, u_p0.w));
}
