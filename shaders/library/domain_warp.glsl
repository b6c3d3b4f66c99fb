// domain_warp: fbm evaluated at coordinates displaced twice by other fbm fields.
vec3 image(vec2 p) {
    float scale = mix(1.0, 4.0, u_p0.x);
    float strength = mix(0.5, 4.0, u_p0.y);
    int octaves = 3 + int(u_p0.z * 1.999);
    vec2 q = p * scale;
    vec2 w1 = vec2(fbm(q + vec2(0.0, u_time * 0.1), octaves, 2.0, 0.5),
                   fbm(q + vec2(5.2, 1.3), octaves, 2.0, 0.5));
    vec2 w2 = vec2(fbm(q + strength * w1 + vec2(1.7, 9.2), octaves, 2.0, 0.5),
                   fbm(q + strength * w1 + vec2(8.3, 2.8 + u_time * 0.05), octaves, 2.0, 0.5));
    float v = fbm(q + strength * w2, octaves, 2.0, 0.5);
    return pal(v * 1.5 + length(w2) * u_p0.w);
}
