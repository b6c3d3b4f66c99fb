// voronoi_edges: the F2 - F1 cellular function (edges of Worley cells), layered twice.
vec3 image(vec2 p) {
    float scale = mix(2.0, 10.0, u_p0.x);
    vec2 q = rot(u_time * 0.05) * p * scale;
    vec3 a = voronoi(q, 1.0);
    vec3 b = voronoi(q * mix(2.0, 4.0, u_p0.y) + 3.1, 1.0);
    float e = (a.y - a.x) + mix(0.0, 0.6, u_p0.z) * (b.y - b.x);
    float sharp = mix(1.0, 6.0, u_p0.w);
    return pal(pow(clamp(e, 0.0, 1.0), 1.0 / sharp));
}
