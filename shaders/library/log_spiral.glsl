// log_spiral: logarithmic spiral arms, sin(n atan + k log r).
vec3 image(vec2 p) {
    float r = length(p) + 1e-4;
    float a = atan(p.y, p.x);
    float arms = float(1 + int(u_p0.x * 9.0));
    float twist = mix(-12.0, 12.0, u_p0.y);
    float s = sin(arms * a + twist * log(r) - u_time * 2.0);
    float edge = mix(1.0, 10.0, u_p0.z);
    float v = clamp(0.5 + 0.5 * s * edge, 0.0, 1.0);
    return pal(v * 0.7 + r * u_p0.w);
}
