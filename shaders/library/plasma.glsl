// plasma: sums of sines of linear and radial coordinates (the demo-scene plasma).
vec3 image(vec2 p) {
    float k = mix(2.0, 10.0, u_p0.x);
    float t = u_time;
    float v = sin(p.x * k + t);
    v += sin((p.y * k + t) * 0.5);
    v += sin((p.x * k * 0.7 + p.y * k * 0.5 + t) * 0.5);
    vec2 c = p * k * 0.5 + vec2(sin(t * 0.3), cos(t * 0.5)) * mix(1.0, 4.0, u_p0.y);
    v += sin(length(c) + t);
    v *= mix(0.5, 2.0, u_p0.z);
    return pal(v * 0.25 + 0.5);
}
