// bricks: running-bond brick tiling with mortar, per-brick tint and surface noise.
vec3 image(vec2 p) {
    float scale = mix(3.0, 12.0, u_p0.x);
    vec2 q = p * scale * vec2(1.0, mix(1.5, 3.0, u_p0.y)) + vec2(u_time * 0.1, 0.0);
    q.x += mod(floor(q.y), 2.0) * 0.5;
    ivec2 c = ivec2(floor(q));
    vec2 f = fract(q);
    float mortar = mix(0.03, 0.12, u_p0.z);
    float m = smoothstep(0.0, mortar, f.x) * smoothstep(0.0, mortar, 1.0 - f.x) *
              smoothstep(0.0, mortar, f.y) * smoothstep(0.0, mortar, 1.0 - f.y);
    float tint = hash21(c);
    float grit = vnoise(q * 12.0) * u_p0.w;
    return mix(vec3(0.75), pal(tint * 0.5 + grit * 0.3), m);
}
