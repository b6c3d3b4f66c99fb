// turing_spots: leopard-like rosettes from jittered cells with noisy ring thresholds.
vec3 image(vec2 p) {
    float scale = mix(4.0, 14.0, u_p0.x);
    vec2 q = p * scale + vec2(0.0, u_time * 0.2);
    q += 0.3 * vec2(gnoise(q * 0.8), gnoise(q * 0.8 + 4.0));
    vec3 v = voronoi(q, 0.8);
    float spot = smoothstep(mix(0.2, 0.45, u_p0.y), 0.15, v.x);
    float ring = smoothstep(0.05, 0.0, abs(v.x - mix(0.25, 0.4, u_p0.z))) * u_p0.w;
    float base = fbm(q * 0.3, 3, 2.0, 0.5);
    return pal(base * 0.3 + 0.5) * (1.0 - spot * 0.8) * (1.0 - ring * 0.8);
}
