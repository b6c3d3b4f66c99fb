// ridged_terrain: ridged multifractal height field, lit from a moving light direction.
float height(vec2 q, int octaves) {
    return ridged(q, octaves, 2.1, 0.5);
}
vec3 image(vec2 p) {
    float scale = mix(1.0, 5.0, u_p0.x);
    int octaves = 3 + int(u_p0.y * 2.999);
    vec2 q = p * scale + vec2(u_time * 0.1, 0.0);
    float h = height(q, octaves);
    // Screen-space derivatives (per 2x2 pixel quad) instead of two more evaluations,
    // converted to height change per unit of q: one pixel is 2 / (resolution * scale) in q.
    vec2 grad = vec2(dFdx(h), dFdy(h)) * u_resolution.y * 0.5 / scale;
    vec3 n = normalize(vec3(-grad * mix(0.05, 0.4, u_p0.z), 1.0));
    float a = u_p0.w * 6.28 + u_time * 0.2;
    float light = clamp(dot(n, normalize(vec3(cos(a), sin(a), 0.8))), 0.0, 1.0);
    return pal(h * 0.8) * (0.35 + 0.65 * light);
}
