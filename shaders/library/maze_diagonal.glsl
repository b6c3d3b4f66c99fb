// maze_diagonal: random diagonal segments per cell, the classic one-line maze pattern.
vec3 image(vec2 p) {
    float scale = mix(6.0, 30.0, u_p0.x);
    vec2 q = p * scale + vec2(0.0, u_time * 0.5);
    ivec2 c = ivec2(floor(q));
    vec2 f = fract(q);
    if (hash21(c) < 0.5) f.x = 1.0 - f.x;
    float d = abs(f.x - f.y) * 0.7071;
    float width = mix(0.05, 0.3, u_p0.y);
    float line = smoothstep(width, width * 0.5, d);
    float tint = hash21(c + ivec2(7, 3));
    return mix(pal(tint * u_p0.z), pal(0.5 + tint * u_p0.z), line);
}
