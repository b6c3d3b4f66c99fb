// truchet_arcs: quarter-circle Truchet tiles, each tile randomly mirrored.
vec3 image(vec2 p) {
    float scale = mix(3.0, 16.0, u_p0.x);
    vec2 q = rot(u_p0.w * 1.57) * p * scale + vec2(u_time * 0.3, 0.0);
    ivec2 c = ivec2(floor(q));
    vec2 f = fract(q) - 0.5;
    if (hash21(c) < 0.5) f.x = -f.x;
    float d1 = abs(length(f - 0.5) - 0.5);
    float d2 = abs(length(f + 0.5) - 0.5);
    float d = min(d1, d2);
    float width = mix(0.05, 0.25, u_p0.y);
    float line = smoothstep(width, width * 0.6, d);
    float bands = 0.5 + 0.5 * cos(d * mix(10.0, 50.0, u_p0.z));
    return pal(line * 0.7 + u_p1.x * bands * 0.3);
}
