// warped_stripes: parallel stripes displaced by value-noise fbm (zebra / agate bands).
vec3 image(vec2 p) {
    float freq = mix(5.0, 40.0, u_p0.x);
    float warp = mix(0.1, 2.0, u_p0.y);
    vec2 q = rot(u_p0.w * 3.14159) * p;
    float n = fbm(q * mix(1.0, 4.0, u_p0.z) + u_time * 0.05, 5, 2.0, 0.5);
    float s = sin((q.x + warp * n) * freq);
    float sharp = mix(1.0, 12.0, u_p1.x);
    return pal(clamp(0.5 + 0.5 * s * sharp, 0.0, 1.0));
}
