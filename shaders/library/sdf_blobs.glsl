// sdf_blobs: raymarched smooth union of moving spheres (metaballs) with soft lighting.
float smooth_min(float a, float b, float k) {
    float h = clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0);
    return mix(b, a, h) - k * h * (1.0 - h);
}
float blobs(vec3 q) {
    float d = 10.0;
    for (int i = 0; i < 5; i++) {
        vec3 c = vec3(sin(u_time * 0.4 + float(i) * 1.7 + u_p0.x * 6.0),
                      cos(u_time * 0.3 + float(i) * 2.3 + u_p0.y * 6.0),
                      sin(float(i) * 0.9 + u_p0.z * 6.0)) * 0.8;
        d = smooth_min(d, length(q - c) - 0.45, mix(0.1, 0.6, u_p0.w));
    }
    return d;
}
vec3 image(vec2 p) {
    vec3 origin = vec3(0.0, 0.0, -3.5);
    vec3 dir = normalize(vec3(p, 1.6));
    float t = 0.0;
    bool hit = false;
    for (int i = 0; i < 32; i++) {
        float d = blobs(origin + dir * t);
        if (d < 0.003) { hit = true; break; }
        t += d * 1.2;
        if (t > 7.0) break;
    }
    if (!hit) return pal(0.8 + p.y * 0.2) * 0.3;
    vec3 q = origin + dir * t;
    vec2 e = vec2(0.01, -0.01);  // tetrahedral differences: 4 evaluations instead of 6
    vec3 n = normalize(e.xyy * blobs(q + e.xyy) + e.yyx * blobs(q + e.yyx) +
                       e.yxy * blobs(q + e.yxy) + e.xxx * blobs(q + e.xxx));
    float diffuse = clamp(dot(n, normalize(vec3(-0.5, 0.7, -0.6))), 0.0, 1.0);
    float rim = pow(1.0 - abs(dot(n, dir)), 3.0);
    return pal(n.y * 0.3 + u_p1.x) * (0.25 + 0.75 * diffuse) + rim * 0.3;
}
