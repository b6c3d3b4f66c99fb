// voronoi_cells: flat-coloured cellular regions with darkened borders.
vec3 image(vec2 p) {
    float scale = mix(3.0, 14.0, u_p0.x);
    vec3 v = voronoi(p * scale + vec2(u_time * 0.2, 0.0), mix(0.3, 1.0, u_p0.y));
    float border = smoothstep(0.0, mix(0.02, 0.15, u_p0.z), v.y - v.x);
    vec3 col = pal(v.z + u_p1.x * v.x);
    return col * mix(1.0, border, u_p0.w);
}
