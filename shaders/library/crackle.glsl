// crackle: Worley edges on an fbm-warped plane, like dried mud or crazing.
vec3 image(vec2 p) {
    float scale = mix(2.0, 8.0, u_p0.x);
    vec2 q = p * scale;
    q += mix(0.2, 1.5, u_p0.y) * vec2(fbm(q * 0.7 + u_time * 0.05, 4, 2.0, 0.5),
                                      fbm(q * 0.7 + 7.7, 4, 2.0, 0.5));
    vec3 v = voronoi(q, 0.9);
    float crack = smoothstep(0.02, mix(0.05, 0.25, u_p0.z), v.y - v.x);
    float shade = fbm(q * 3.0, 3, 2.0, 0.5);
    return pal(v.z * u_p0.w + shade * 0.5) * (0.2 + 0.8 * crack);
}
