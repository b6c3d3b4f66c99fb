// hex_tiling: hexagonal cells with random per-cell colour and distance-to-edge shading.
vec4 hex_cell(vec2 p) {
    vec2 s = vec2(1.0, 1.7320508);
    vec2 a = mod(p, s) - s * 0.5;
    vec2 b = mod(p - s * 0.5, s) - s * 0.5;
    vec2 g = dot(a, a) < dot(b, b) ? a : b;
    vec2 id = p - g;
    return vec4(g, id);
}
vec3 image(vec2 p) {
    float scale = mix(3.0, 14.0, u_p0.x);
    vec4 h = hex_cell(p * scale + vec2(0.0, u_time * 0.2));
    vec2 a = abs(h.xy);
    float edge = 0.5 - max(dot(a, normalize(vec2(1.0, 1.7320508))), a.x);
    float v = hash21(ivec2(floor(h.zw * 2.0)));
    float rim = smoothstep(0.0, mix(0.02, 0.2, u_p0.y), edge);
    float rings = 0.5 + 0.5 * cos(edge * mix(10.0, 60.0, u_p0.z));
    return pal(v + u_p0.w * rings) * rim;
}
