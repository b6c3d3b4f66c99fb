// gabor_sparse: sparse convolution of oriented Gabor kernels (anisotropic texture).
vec3 image(vec2 p) {
    float scale = mix(3.0, 10.0, u_p0.x);
    vec2 q = p * scale;
    ivec2 cell = ivec2(floor(q));
    float freq = mix(8.0, 25.0, u_p0.y);
    float base_angle = u_p0.z * 3.14159 + u_time * 0.05;
    float spread = mix(0.0, 3.14159, u_p0.w);
    float sum = 0.0;
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            ivec2 c = cell + ivec2(i, j);
            vec2 centre = vec2(c) + hash22(c);
            vec2 d = q - centre;
            float a = base_angle + (hash21(c + ivec2(31, 17)) - 0.5) * spread;
            float envelope = exp(-dot(d, d) * 3.0);
            sum += envelope * cos(dot(d, vec2(cos(a), sin(a))) * freq);
        }
    }
    return pal(0.5 + 0.4 * sum);
}
