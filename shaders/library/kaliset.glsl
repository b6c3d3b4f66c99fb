// kaliset: iterated fold p -> |p| / dot(p, p) - c, coloured by an orbit trap.
vec3 image(vec2 p) {
    vec2 c = vec2(mix(0.3, 0.9, u_p0.x), mix(0.3, 0.9, u_p0.y)) + 0.03 * sin(u_time * 0.2);
    vec2 z = p * mix(0.5, 1.5, u_p0.z);
    int iterations = 6 + int(u_p0.w * 10.0);
    float trap = 10.0, acc = 0.0;
    for (int i = 0; i < 16; i++) {
        if (i >= iterations) break;
        z = abs(z) / max(dot(z, z), 1e-3) - c;
        trap = min(trap, abs(z.x * z.y));
        acc += length(z);
    }
    float v = mix(sqrt(trap) * 2.0, fract(acc * mix(0.05, 0.3, u_p1.x)), u_p1.y);
    return pal(v);
}
