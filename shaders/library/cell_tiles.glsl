// cell_tiles: random rectangular subdivision (two levels of split cells), flat colours.
vec3 image(vec2 p) {
    float scale = mix(2.0, 6.0, u_p0.x);
    vec2 q = p * scale + vec2(u_time * 0.1, 0.0);
    ivec2 c = ivec2(floor(q));
    vec2 f = fract(q);
    float id = hash21(c);
    for (int level = 0; level < 3; level++) {
        float split = mix(0.3, 0.7, hash21(c + ivec2(level * 7 + 1, 3)));
        bool vertical = hash21(c + ivec2(5, level * 11 + 2)) < 0.5;
        float x = vertical ? f.x : f.y;
        int side = x < split ? 0 : 1;
        f = vertical ? vec2(side == 0 ? f.x / split : (f.x - split) / (1.0 - split), f.y)
                     : vec2(f.x, side == 0 ? f.y / split : (f.y - split) / (1.0 - split));
        c = c * 2 + ivec2(side, level);
        if (hash21(c) < u_p0.y * 0.5) break;
    }
    float gap = mix(0.01, 0.08, u_p0.z);
    float m = step(gap, f.x) * step(gap, f.y) * step(f.x, 1.0 - gap) * step(f.y, 1.0 - gap);
    return pal(hash21(c) * mix(0.3, 1.0, u_p0.w)) * m;
}
