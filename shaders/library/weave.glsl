// weave: over-under basket weave of two thread directions with shaded threads.
vec3 image(vec2 p) {
    float scale = mix(4.0, 16.0, u_p0.x);
    vec2 q = rot(u_p0.y * 1.57 + u_time * 0.02) * p * scale;
    ivec2 c = ivec2(floor(q));
    vec2 f = fract(q);
    bool horizontal = ((c.x + c.y) & 1) == 0;
    float across = horizontal ? f.y : f.x;
    float along = horizontal ? f.x : f.y;
    float thread = sin(across * 3.14159);
    float strands = 0.8 + 0.2 * sin(across * mix(10.0, 40.0, u_p0.z));
    float bulge = 0.6 + 0.4 * sin(along * 3.14159);
    return pal((horizontal ? 0.2 : 0.7) + u_p0.w * 0.2) * thread * strands * bulge;
}
