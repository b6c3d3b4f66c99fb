// kaleidoscope: the plane folded into n mirrored sectors, then value-noise fbm and rings.
vec3 image(vec2 p) {
    float n = float(3 + int(u_p0.x * 10.0));
    float r = length(p);
    float a = atan(p.y, p.x) + u_time * 0.1;
    float sector = 6.2831853 / n;
    a = abs(mod(a, sector) - sector * 0.5);
    vec2 q = vec2(cos(a), sin(a)) * r;
    float scale = mix(2.0, 8.0, u_p0.y);
    float v = fbm(q * scale + vec2(u_time * 0.1, 0.0), 4, 2.0, 0.5);
    v += u_p0.z * 0.3 * sin(r * mix(5.0, 30.0, u_p0.w));
    return pal(v);
}
