// wood_rings: concentric rings perturbed by noise, sharpened into growth rings.
vec3 image(vec2 p) {
    vec2 c = (u_p1.xy - 0.5) * 1.5;
    vec2 q = (p - c) * vec2(1.0, mix(0.2, 1.0, u_p0.x));
    float r = length(q) + mix(0.0, 0.4, u_p0.y) * fbm(q * 3.0 + u_time * 0.05, 4, 2.0, 0.5);
    float rings = fract(r * mix(5.0, 30.0, u_p0.z));
    float grain = pow(rings, mix(1.0, 6.0, u_p0.w));
    return pal(grain * 0.5 + 0.2 * vnoise(p * vec2(40.0, 2.0)));
}
