// turing_labyrinth: thresholded band-pass noise, resembling reaction-diffusion labyrinths.
vec3 image(vec2 p) {
    float freq = mix(6.0, 20.0, u_p0.x);
    vec2 q = p * freq + vec2(u_time * 0.2, 0.0);
    float fine = gnoise(q) + 0.5 * gnoise(q * 1.9 + 3.0);
    float coarse = gnoise(q * 0.35 + 9.0);
    float band = fine - mix(0.0, 0.8, u_p0.y) * coarse;
    float bias = mix(-0.25, 0.25, u_p0.z);
    float v = smoothstep(bias - 0.04, bias + 0.04, band);
    return pal(v * 0.6 + u_p0.w * fine * 0.3);
}
