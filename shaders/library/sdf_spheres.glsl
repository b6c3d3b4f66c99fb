// sdf_spheres: raymarched infinite lattice of spheres (distance-field repetition), fogged.
float scene(vec3 q, float radius) {
    vec3 cell = mod(q, 2.0) - 1.0;
    return length(cell) - radius;
}
vec3 image(vec2 p) {
    float radius = mix(0.25, 0.7, u_p0.x);
    vec3 origin = vec3(u_p0.y * 2.0, u_p0.z * 2.0, u_time * 0.5);
    vec3 dir = normalize(vec3(p, 1.5));
    dir.xy = rot(u_p0.w * 6.28) * dir.xy;
    float t = 0.0;
    int i;
    for (i = 0; i < 64; i++) {
        float d = scene(origin + dir * t, radius);
        if (d < 0.002 || t > 30.0) break;
        t += d;
    }
    vec3 hit = origin + dir * t;
    vec2 e = vec2(0.01, 0.0);
    vec3 n = normalize(vec3(scene(hit + e.xyy, radius) - scene(hit - e.xyy, radius),
                            scene(hit + e.yxy, radius) - scene(hit - e.yxy, radius),
                            scene(hit + e.yyx, radius) - scene(hit - e.yyx, radius)));
    float diffuse = clamp(dot(n, normalize(vec3(0.5, 0.8, -0.3))), 0.0, 1.0);
    float fog = exp(-t * mix(0.05, 0.25, u_p1.x));
    return pal(t * 0.05 + float(i) * 0.01) * (0.2 + 0.8 * diffuse) * fog;
}
