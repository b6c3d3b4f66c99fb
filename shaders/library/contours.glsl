// contours: topographic iso-lines of an fbm height field, with hypsometric tint.
vec3 image(vec2 p) {
    float scale = mix(1.0, 4.0, u_p0.x);
    float h = fbm(p * scale + vec2(u_time * 0.05, 0.0), 5, 2.0, 0.5);
    float levels = mix(8.0, 40.0, u_p0.y);
    float f = fract(h * levels);
    float w = fwidth(h * levels) * mix(1.0, 2.5, u_p0.z);
    float line = smoothstep(0.0, w, f) * smoothstep(0.0, w, 1.0 - f);
    return pal(h * mix(0.5, 2.0, u_p0.w)) * mix(0.2, 1.0, line);
}
