// rosette: overlapping rings on a circle (a spirograph-like rosette), additive glow.
vec3 image(vec2 p) {
    int rings = 4 + int(u_p0.x * 12.0);
    float radius = mix(0.2, 0.6, u_p0.y);
    float sum = 0.0;
    for (int i = 0; i < 16; i++) {
        if (i >= rings) break;
        float a = 6.2831853 * float(i) / float(rings) + u_time * 0.1;
        vec2 c = vec2(cos(a), sin(a)) * radius;
        float d = abs(length(p - c) - radius);
        sum += exp(-d * mix(20.0, 80.0, u_p0.z));
    }
    return pal(sum * mix(0.1, 0.4, u_p0.w));
}
