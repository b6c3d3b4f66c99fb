// sdf_terrain: a value-noise height field seen from above at a grazing angle (ray stepping).
float terrain(vec2 q) {
    return fbm(q * 0.5, 3, 2.0, 0.5) * 1.5;
}
vec3 image(vec2 p) {
    vec3 origin = vec3(u_p0.x * 20.0, 1.8, u_time * 0.5 + u_p0.y * 20.0);
    vec3 dir = normalize(vec3(p.x, p.y - mix(0.2, 0.6, u_p0.z), 1.2));
    float t = 0.1;
    float h = 0.0;
    bool hit = false;
    for (int i = 0; i < 40; i++) {
        vec3 q = origin + dir * t;
        h = terrain(q.xz);
        if (q.y < h) { hit = true; break; }
        t += max(0.08, (q.y - h) * 0.6);
        if (t > 25.0) break;
    }
    if (!hit) return pal(0.9 - max(dir.y, 0.0)) * 0.8 + 0.2;
    vec3 q = origin + dir * t;
    float e = 0.05;
    vec3 n = normalize(vec3(terrain(q.xz - vec2(e, 0.0)) - terrain(q.xz + vec2(e, 0.0)), 2.0 * e,
                            terrain(q.xz - vec2(0.0, e)) - terrain(q.xz + vec2(0.0, e))));
    float diffuse = clamp(dot(n, normalize(vec3(0.6, 0.7, 0.2))), 0.0, 1.0);
    float fog = exp(-t * mix(0.03, 0.15, u_p0.w));
    return mix(vec3(0.7), pal(h * 0.6) * (0.3 + 0.7 * diffuse), fog);
}
